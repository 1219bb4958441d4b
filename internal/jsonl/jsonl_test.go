package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every line of in.
func readAll(t testing.TB, r io.Reader) []Line {
	t.Helper()
	rd := NewReader(r)
	var out []Line
	for {
		l, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: unexpected read error %v", err)
		}
		out = append(out, l)
		if len(out) > 1<<20 {
			t.Fatal("reader does not stop")
		}
	}
}

// want is one line the reader must report: its number and its content
// without the newline (and without one trailing CR).
type want struct {
	n    int
	text []byte
}

// expect splits in into the non-blank lines the reader must report, the
// model the fuzz test holds the reader to.
func expect(in []byte) []want {
	var out []want
	newlines := bytes.Count(in, []byte("\n"))
	for i, line := range bytes.Split(in, []byte("\n")) {
		if i == newlines && len(line) == 0 {
			break // after the last newline
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) <= MaxLine && len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		out = append(out, want{n: i + 1, text: line})
	}
	return out
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// roundTrip decodes an object, encodes it and decodes it again, and reports
// whether both decodings agree.
func roundTrip(t testing.TB, raw []byte) {
	t.Helper()
	decode := func(b []byte) map[string]any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("valid object line %q does not decode: %v", b, err)
		}
		return m
	}
	first := decode(raw)
	b, err := json.Marshal(first)
	if err != nil {
		t.Fatalf("re-encoding %q: %v", raw, err)
	}
	if second := decode(b); !reflect.DeepEqual(first, second) {
		t.Fatalf("round trip of %q changed it: %v != %v", raw, first, second)
	}
}

func check(t testing.TB, in []byte, got []Line) {
	t.Helper()
	wants := expect(in)
	if len(got) != len(wants) {
		t.Fatalf("input %q: got %d lines, want %d: %+v", clipForLog(in), len(got), len(wants), got)
	}
	for i, w := range wants {
		l := got[i]
		if l.N != w.n {
			t.Fatalf("line %d reported as number %d", w.n, l.N)
		}
		if !json.Valid(l.Raw) {
			t.Fatalf("line %d: Raw %q is not valid JSON (results embed it)", w.n, l.Raw)
		}
		if len(l.Raw) > MaxLine && l.Err != nil {
			t.Fatalf("line %d: a bad line's Raw must be cut, is %d bytes", w.n, len(l.Raw))
		}
		switch {
		case len(w.text) > MaxLine:
			if !errors.Is(l.Err, ErrTooLong) {
				t.Fatalf("line %d of %d bytes: Err = %v, want ErrTooLong", w.n, len(w.text), l.Err)
			}
		case isObject(w.text):
			if l.Err != nil {
				t.Fatalf("line %d %q is one JSON object but Err = %v", w.n, w.text, l.Err)
			}
			if !bytes.Equal(l.Raw, bytes.TrimSpace(w.text)) {
				t.Fatalf("line %d: Raw %q, want %q", w.n, l.Raw, bytes.TrimSpace(w.text))
			}
			roundTrip(t, l.Raw)
		default:
			if l.Err == nil {
				t.Fatalf("line %d %q is not one JSON object but Err is nil", w.n, w.text)
			}
		}
	}
}

func clipForLog(b []byte) []byte {
	if len(b) > 300 {
		return append(b[:300:300], "..."...)
	}
	return b
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"",
		"\n",
		"{}\n",
		`{"backend":"docker","kind":"container","name":"claude-bottle-x","id":"abc"}` + "\n",
		"{\"a\":1}\n\n   \n{\"b\":[1,2,{\"c\":null}]}\n",
		"{\"a\":1}\r\n{\"b\":2}\r\n",
		"{\"a\":1}", // no final newline
		"{\"a\":",   // truncated
		"{\"a\":1}\n{\"b\"",
		"not json\n",
		"[1,2,3]\n",
		"\"a string\"\n42\nnull\ntrue\n",
		"{} {}\n",
		"{\"a\":1}{\"b\":2}\n",
		"{\"a\":1} x\n",
		"{}}\n",
		"\t {\"a\":1} \t\n",
		"{\"a\":\"\xff\xfe\"}\n",
		"\xff\xfe\xfd\n",
		"{\"\xc3\x28\":1}\n",
		"{\"a\":1e999}\n",
		"\r\n\r\n{}\r",
		// Longer than the reader's 64 KiB buffer. Lines over MaxLine are
		// left to TestReaderHugeLines: the fuzzer spends its time
		// minimising megabyte inputs instead of exploring.
		"{\"a\":\"" + strings.Repeat("x", 70<<10) + "\"}\n",
		"\n\n" + strings.Repeat(" ", 65<<10) + "\n{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole := readAll(t, bytes.NewReader(in))
		check(t, in, whole)
		// Short reads must not change anything.
		pieces := readAll(t, iotest.HalfReader(bytes.NewReader(in)))
		if !reflect.DeepEqual(whole, pieces) {
			t.Fatalf("short reads changed the lines: %+v != %+v", pieces, whole)
		}
	})
}

// The fuzz invariants on inputs with lines over the limit.
func TestReaderHugeLines(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("x", MaxLine+10) + "\n{\"after\":true}\n",
		"{}\n\n" + strings.Repeat(" ", MaxLine+1) + "\r\n{\"after\":true}",
		"{\"a\":\"" + strings.Repeat("\xff", MaxLine) + "\"}\r\n[]\n",
		strings.Repeat("{}", MaxLine),
	} {
		check(t, []byte(in), readAll(t, strings.NewReader(in)))
		check(t, []byte(in), readAll(t, iotest.OneByteReader(strings.NewReader(in))))
	}
}

func TestReaderLines(t *testing.T) {
	in := "{\"a\":1}\n\n  \nnope\r\n[1]\n{\"b\":2}{\"c\":3}\n{\"d\":4}"
	got := readAll(t, strings.NewReader(in))
	type row struct {
		n   int
		raw string
		ok  bool
	}
	want := []row{{1, `{"a":1}`, true}, {4, `"nope"`, false}, {5, `[1]`, false}, {6, `"{\"b\":2}{\"c\":3}"`, false}, {7, `{"d":4}`, true}}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].N != w.n || string(got[i].Raw) != w.raw || (got[i].Err == nil) != w.ok {
			t.Errorf("line %d: got {%d %s %v}, want %+v", i, got[i].N, got[i].Raw, got[i].Err, w)
		}
	}
	if !strings.Contains(got[3].Err.Error(), "more than one JSON value") {
		t.Errorf("two values on a line: Err = %v", got[3].Err)
	}
	if !strings.Contains(got[2].Err.Error(), "not a JSON object") {
		t.Errorf("an array: Err = %v", got[2].Err)
	}
}

func TestReaderEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "\n\n \r\n\t\n"} {
		if got := readAll(t, strings.NewReader(in)); len(got) != 0 {
			t.Errorf("%q: got %+v, want no lines", in, got)
		}
	}
}

// The limit is 1 MiB of content, the newline (LF or CRLF) excluded, whether
// or not the line ends the input.
func TestReaderLimit(t *testing.T) {
	object := func(n int) string { // a JSON object of exactly n bytes
		return `{"a":"` + strings.Repeat("x", n-8) + `"}`
	}
	for _, tc := range []struct {
		name string
		in   string
		err  error
	}{
		{"MaxLine+LF", object(MaxLine) + "\n", nil},
		{"MaxLine+CRLF", object(MaxLine) + "\r\n", nil},
		{"MaxLine at EOF", object(MaxLine), nil},
		{"MaxLine+1 +LF", object(MaxLine+1) + "\n", ErrTooLong},
		{"MaxLine+1 +CRLF", object(MaxLine+1) + "\r\n", ErrTooLong},
		{"MaxLine+1 at EOF", object(MaxLine + 1), ErrTooLong},
		{"4 MiB", object(4*MaxLine) + "\n", ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in + "{\"next\":1}\n"
			if !strings.HasSuffix(tc.in, "\n") {
				in = tc.in
			}
			got := readAll(t, strings.NewReader(in))
			if got[0].N != 1 || !errors.Is(got[0].Err, tc.err) && got[0].Err != tc.err {
				t.Fatalf("line 1: N=%d Err=%v, want %v", got[0].N, got[0].Err, tc.err)
			}
			if tc.err != nil && len(got[0].Raw) > 256 {
				t.Errorf("a too-long line's Raw is %d bytes; it must be cut", len(got[0].Raw))
			}
			if tc.err != nil && !strings.Contains(got[0].Err.Error(), "1 MiB") {
				t.Errorf("the error must name the limit: %v", got[0].Err)
			}
			if strings.HasSuffix(tc.in, "\n") {
				if len(got) != 2 || got[1].N != 2 || got[1].Err != nil || string(got[1].Raw) != `{"next":1}` {
					t.Fatalf("the line after: %+v", got[1:])
				}
			} else if len(got) != 1 {
				t.Fatalf("got %d lines, want 1", len(got))
			}
		})
	}
}

// A read error is the input's, not a line's: Next returns it.
func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	rd := NewReader(io.MultiReader(strings.NewReader("{\"a\":1}\n"), iotest.ErrReader(boom)))
	l, err := rd.Next()
	if err != nil || l.N != 1 || l.Err != nil {
		t.Fatalf("first line: %+v, %v", l, err)
	}
	if _, err := rd.Next(); !errors.Is(err, boom) {
		t.Fatalf("after the data: err = %v, want boom", err)
	}
}

func TestWriterOneWritePerRecord(t *testing.T) {
	var w countingWriter
	jw := NewWriter(&w)
	for i := range 3 {
		if err := jw.Write(map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if w.writes != 3 || w.String() != "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n" {
		t.Fatalf("%d writes of %q", w.writes, w.String())
	}
	if err := jw.Write(func() {}); err == nil {
		t.Fatal("an unmarshalable value must fail")
	}
	if w.writes != 3 {
		t.Fatal("a failed record must write nothing")
	}
}

type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}
