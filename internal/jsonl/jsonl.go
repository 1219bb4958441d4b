// Package jsonl reads and writes JSON lines: one compact JSON object per
// line. The writer makes one Write per record, so records from concurrent
// writers never interleave and a reader killed halfway sees whole lines. The
// reader numbers lines itself and survives any line: too long, not JSON,
// truncated; each is reported with its number and the reading goes on.
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// MaxLine is the longest line the reader accepts (1 MiB, newline excluded).
// A plan item is a few hundred bytes; a longer line is not one of ours.
const MaxLine = 1 << 20

// Writer writes one JSON value per line. It is safe for concurrent use.
type Writer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write marshals v and writes it and a newline with a single Write.
func (w *Writer) Write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.w.Write(b)
	return err
}

// Line is one line of input.
type Line struct {
	N int // 1-based line number
	// File is the input's name, when it has one (the file it was read from).
	File string
	Raw  json.RawMessage // the line without its newline (cut to 200 bytes when too long)
	Err  error           // why the line is not a JSON object, or nil
}

// ErrTooLong is reported for lines over MaxLine.
var ErrTooLong = fmt.Errorf("line longer than %d bytes (1 MiB)", MaxLine)

// Reader reads JSON-lines input.
type Reader struct {
	r *bufio.Reader
	n int
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 64<<10)} }

// Next returns the next non-blank line, or io.EOF when the input is done, or
// another error when reading failed (the input, not a line, is bad then).
// A line that is not a single JSON object comes back with Err set.
func (r *Reader) Next() (Line, error) {
	for {
		raw, tooLong, err := r.readLine()
		if err != nil && (len(raw) == 0 && !tooLong) {
			return Line{}, err
		}
		r.n++
		l := Line{N: r.n}
		switch {
		case tooLong:
			l.Raw = json.RawMessage(clip(raw))
			l.Err = ErrTooLong
		default:
			trimmed := bytes.TrimSpace(raw)
			if len(trimmed) == 0 {
				if err != nil {
					return Line{}, err
				}
				continue
			}
			l.Raw = json.RawMessage(trimmed)
			l.Err = checkObject(trimmed)
			if l.Err != nil {
				l.Raw = json.RawMessage(clip(trimmed))
			}
		}
		return l, nil
	}
}

// readLine reads up to a newline. A line over MaxLine is consumed whole and
// returned cut, with tooLong set. At the end of input without a newline the
// partial line is returned with io.EOF.
func (r *Reader) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := r.r.ReadSlice('\n')
		if !tooLong {
			// Keep MaxLine bytes of content and its "\r\n"; past that
			// the content is over the limit whatever ends it.
			if len(buf)+len(chunk) > MaxLine+2 {
				tooLong = true
				buf = append(buf, chunk[:min(len(chunk), 256)]...)
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if !tooLong {
			buf = bytes.TrimSuffix(buf, []byte("\n"))
			buf = bytes.TrimSuffix(buf, []byte("\r"))
			// The limit is on the content, the newline excluded, and
			// holds for a last line without one too.
			tooLong = len(buf) > MaxLine
		}
		if err == nil {
			return buf, tooLong, nil
		}
		return buf, tooLong, err
	}
}

func clip(b []byte) []byte {
	if len(b) > 200 {
		b = b[:200]
	}
	if json.Valid(b) {
		return b
	}
	// Keep the raw text readable inside a JSON result: quote it as a string.
	q, _ := json.Marshal(string(bytes.ToValidUTF8(b, []byte("?"))))
	return q
}

func checkObject(b []byte) error {
	if b[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var v map[string]json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not valid JSON: %v", err)
	}
	if dec.More() {
		return errors.New("more than one JSON value on the line")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value on the line")
	}
	return nil
}
