package cli

import (
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/exitcode"
)

type rec struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

func emitAll(t *testing.T, p *Printer, recs ...any) error {
	t.Helper()
	for _, r := range recs {
		if err := p.Emit(r); err != nil {
			return err
		}
	}
	return nil
}

func TestPrinterModes(t *testing.T) {
	for _, tc := range []struct {
		tty    bool
		o      Output
		vars   map[string]string
		table  bool
		colour bool
	}{
		{tty: false, table: false},
		{tty: true, table: true, colour: true},
		{tty: true, vars: map[string]string{"NO_COLOR": "1"}, table: true, colour: false},
		{tty: true, vars: map[string]string{"TERM": "dumb"}, table: true, colour: false},
		{tty: true, o: Output{JSON: true}, table: false},
		{tty: true, o: Output{JQ: ".name"}, table: false},
		{tty: false, o: Output{JQ: ".name"}, table: false},
	} {
		_, env := newEnv(tc.tty, tc.vars)
		p, err := NewPrinter(env, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if p.Table() != tc.table || p.Color() != tc.colour {
			t.Errorf("%+v: table=%v colour=%v, want %v %v", tc, p.Table(), p.Color(), tc.table, tc.colour)
		}
	}
}

func TestEmitJSONLines(t *testing.T) {
	b, env := newEnv(false, nil)
	p, _ := NewPrinter(env, Output{})
	if err := emitAll(t, p, rec{"a", []string{"x"}}, rec{"b", nil}); err != nil {
		t.Fatal(err)
	}
	if want := "{\"name\":\"a\",\"tags\":[\"x\"]}\n{\"name\":\"b\",\"tags\":null}\n"; b.out.String() != want {
		t.Fatalf("got %q, want %q", b.out.String(), want)
	}
}

func TestEmitJQ(t *testing.T) {
	recs := []any{rec{"a", []string{"x", "y"}}, rec{"b", nil}, rec{"c", []string{"z"}}}
	for _, tc := range []struct{ expr, want string }{
		{".name", "a\nb\nc\n"},    // strings raw
		{".tags[]?", "x\ny\nz\n"}, // zero, two, one per object
		{"select(.name==\"b\")", "{\"name\":\"b\",\"tags\":null}\n"}, // zero or one, compact JSON
		{"empty", ""},                 // zero at all
		{".tags|length", "2\n0\n1\n"}, // numbers as JSON
		{"{n:.name}", "{\"n\":\"a\"}\n{\"n\":\"b\"}\n{\"n\":\"c\"}\n"}, // objects compact
		{"\"line1\\nline2\"", "line1\nline2\nline1\nline2\nline1\nline2\n"},
		{"[.name]", "[\"a\"]\n[\"b\"]\n[\"c\"]\n"},
		{"if .name==\"b\" then halt else .name end", "a\nc\n"},
	} {
		b, env := newEnv(true, nil)
		p, err := NewPrinter(env, Output{JQ: tc.expr})
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if err := emitAll(t, p, recs...); err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if b.out.String() != tc.want {
			t.Errorf("--jq %s: got %q, want %q", tc.expr, b.out.String(), tc.want)
		}
	}
}

func TestEmitJQRuntimeError(t *testing.T) {
	for _, expr := range []string{".name|tonumber", "error(\"boom\")", ".name+1", "halt_error"} {
		b, env := newEnv(false, nil)
		p, err := NewPrinter(env, Output{JQ: expr})
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		err = emitAll(t, p, rec{"a", nil})
		if err == nil || !strings.HasPrefix(err.Error(), "--jq: ") || exitcode.Of(err) != exitcode.Failure {
			t.Errorf("--jq %s: err %v, want a runtime error (exit 1)", expr, err)
		}
		if b.out.Len() != 0 {
			t.Errorf("--jq %s: stdout %q", expr, b.out.String())
		}
	}
}

func TestJQCompileErrorIsUsage(t *testing.T) {
	for _, expr := range []string{".name |", "foo(", "$undefined", "nosuchfunc"} {
		_, env := newEnv(false, nil)
		_, err := NewPrinter(env, Output{JQ: expr})
		if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "bad --jq expression") {
			t.Errorf("--jq %q: %v, want a usage error", expr, err)
		}
	}
}

func TestTable(t *testing.T) {
	for _, colour := range []bool{false, true} {
		vars := map[string]string{}
		if !colour {
			vars["NO_COLOR"] = "1"
		}
		b, env := newEnv(true, vars)
		p, _ := NewPrinter(env, Output{})
		tb := p.NewTable("NAME", "STATUS", "DIR")
		tb.ColorColumn(1, func(s string) string {
			if s == "running" {
				return "green"
			}
			return ""
		})
		tb.Row("long-name-é", "running", "/x")
		tb.Row("n", "stopped\tx", "-")
		if err := tb.Flush(); err != nil {
			t.Fatal(err)
		}
		out := b.out.String()
		if colour {
			if !strings.Contains(out, "\x1b[1mNAME\x1b[0m") || !strings.Contains(out, "\x1b[32mrunning\x1b[0m") {
				t.Errorf("colour: %q", out)
			}
			out = stripANSI(out)
		} else if strings.Contains(out, "\x1b") {
			t.Errorf("NO_COLOR: escape codes in %q", out)
		}
		// a tab in a cell is shown escaped, as every non-printable character is
		want := "NAME          STATUS       DIR\n" +
			"long-name-é   running      /x\n" +
			"n             stopped\\tx   -\n"
		if out != want {
			t.Errorf("colour=%v:\n%s\nwant\n%s", colour, out, want)
		}
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
