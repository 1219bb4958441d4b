package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"

	"github.com/claude-bottle/bottle/internal/ansi"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/jsonl"
)

// Output are the flags that choose how records are printed.
type Output struct {
	JSON bool   `long:"json" description:"print JSON lines even when stdout is a terminal"`
	JQ   string `long:"jq" unquote:"false" value-name:"EXPR" description:"filter each record through a jq expression (gojq); strings print raw, other values as compact JSON"`
}

// Printer prints records: an aligned table for a person at a terminal,
// otherwise one compact JSON object per line, each written with one Write.
type Printer struct {
	w     *jsonl.Writer
	out   io.Writer
	jq    *gojq.Code
	table bool
	color bool
}

// NewPrinter compiles --jq (a compile error is a usage error) and chooses
// the mode: a table when stdout is a terminal and neither --json nor --jq
// was given.
func NewPrinter(env Env, o Output) (*Printer, error) {
	p := &Printer{w: jsonl.NewWriter(env.Stdout), out: env.Stdout}
	if o.JQ != "" {
		q, err := gojq.Parse(o.JQ)
		if err != nil {
			return nil, exitcode.Usagef("bad --jq expression %q: %v", o.JQ, err)
		}
		code, err := gojq.Compile(q)
		if err != nil {
			return nil, exitcode.Usagef("bad --jq expression %q: %v", o.JQ, err)
		}
		p.jq = code
	}
	p.table = env.StdoutTTY && !o.JSON && p.jq == nil
	p.color = p.table && env.Getenv("NO_COLOR") == "" && env.Getenv("TERM") != "dumb"
	return p, nil
}

// Table reports whether the tool should print its human table.
func (p *Printer) Table() bool { return p.table }

// Color reports whether the table may use colour.
func (p *Printer) Color() bool { return p.color }

// Emit prints one record as JSON, through --jq when given. A jq runtime
// error is returned (exit 1) and stops the tool.
func (p *Printer) Emit(v any) error {
	if p.jq == nil {
		return p.w.Write(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var in any
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	iter := p.jq.Run(in)
	for {
		out, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, ok := out.(error); ok {
			// `halt` stops this record's output quietly, as jq exits 0.
			if h, ok := err.(*gojq.HaltError); ok && h.Value() == nil {
				return nil
			}
			return fmt.Errorf("--jq: %v", err)
		}
		if s, ok := out.(string); ok {
			if _, err := io.WriteString(p.out, s+"\n"); err != nil {
				return err
			}
			continue
		}
		if err := p.w.Write(out); err != nil {
			return err
		}
	}
}

// Table is an aligned text table with a header row. Widths are measured
// before colour is applied, so coloured cells stay aligned.
type Table struct {
	out    io.Writer
	color  bool
	rows   [][]string
	colors map[int]func(cell string) string
}

// NewTable starts a table with the given column headers.
func (p *Printer) NewTable(headers ...string) *Table {
	t := &Table{out: p.out, color: p.color, colors: map[int]func(string) string{}}
	t.Row(headers...)
	return t
}

// ColorColumn colours column i's cells (not the header) with the colour
// pick returns for each cell ("" for none).
func (t *Table) ColorColumn(i int, pick func(cell string) string) { t.colors[i] = pick }

// Row adds a row. Cells are shown Printable: a name cannot move the cursor.
func (t *Table) Row(cells ...string) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = ansi.Printable(c)
	}
	t.rows = append(t.rows, row)
}

// Flush writes the table out.
func (t *Table) Flush() error {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b bytes.Buffer
	for n, r := range t.rows {
		for i, c := range r {
			cell := c
			if n == 0 {
				cell = ansi.Paint(t.color, "bold", c)
			} else if pick := t.colors[i]; pick != nil {
				cell = ansi.Paint(t.color, pick(c), c)
			}
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+3))
			}
		}
		b.WriteByte('\n')
	}
	_, err := t.out.Write(b.Bytes())
	return err
}

// Paint wraps s in an ANSI colour when colour is on: "green", "yellow", "red", "bold", "dim".
func (p *Printer) Paint(color, s string) string { return ansi.Paint(p.color, color, s) }
