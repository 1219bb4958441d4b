package reap

import (
	"errors"
	"io"

	"github.com/claude-bottle/bottle/internal/jsonl"
)

// Source reads plan lines from inputs in turn, numbered across them as if
// they were one stream.
type Source struct {
	inputs []io.Reader
	r      *jsonl.Reader
	n      int
	peeked *jsonl.Line
}

// NewSource returns a Source on inputs.
func NewSource(inputs ...io.Reader) *Source { return &Source{inputs: inputs} }

// Next returns the next line, io.EOF when every input is done, or the error
// that stopped the reading.
func (s *Source) Next() (jsonl.Line, error) {
	if l := s.peeked; l != nil {
		s.peeked = nil
		return *l, nil
	}
	for {
		if s.r == nil {
			if len(s.inputs) == 0 {
				return jsonl.Line{}, io.EOF
			}
			s.r, s.inputs = jsonl.NewReader(s.inputs[0]), s.inputs[1:]
		}
		l, err := s.r.Next()
		if errors.Is(err, io.EOF) {
			s.r = nil
			continue
		}
		if err != nil {
			return jsonl.Line{}, err
		}
		s.n++
		l.N = s.n
		return l, nil
	}
}

// Empty reports whether the inputs hold no line at all; it reads ahead one
// line, which Next then returns.
func (s *Source) Empty() (bool, error) {
	if s.peeked != nil {
		return false, nil
	}
	l, err := s.Next()
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	s.peeked = &l
	return false, nil
}

// Read reads every input's lines, numbered across the inputs in order (as if
// they were one stream). A read error stops the reading; the lines read so
// far are returned with it.
func Read(inputs ...io.Reader) ([]jsonl.Line, error) {
	var lines []jsonl.Line
	src := NewSource(inputs...)
	for {
		l, err := src.Next()
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
		lines = append(lines, l)
	}
}
