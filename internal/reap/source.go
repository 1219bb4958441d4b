package reap

import (
	"errors"
	"fmt"
	"io"

	"github.com/claude-bottle/bottle/internal/jsonl"
)

// Source reads plan lines from inputs in turn. Each input's lines are
// numbered from 1, as an editor numbers them; an input made with File
// gives its lines its name too.
type Source struct {
	inputs []io.Reader
	r      *jsonl.Reader
	name   string
	peeked *jsonl.Line
}

// NewSource returns a Source on inputs.
func NewSource(inputs ...io.Reader) *Source { return &Source{inputs: inputs} }

// File names an input: every line read from it carries the name (its
// results say "file": name).
func File(name string, r io.Reader) io.Reader { return named{r, name} }

type named struct {
	io.Reader
	name string
}

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
			in := s.inputs[0]
			s.inputs, s.name = s.inputs[1:], ""
			if n, ok := in.(named); ok {
				in, s.name = n.Reader, n.name
			}
			s.r = jsonl.NewReader(in)
		}
		l, err := s.r.Next()
		if errors.Is(err, io.EOF) {
			s.r = nil
			continue
		}
		if err != nil {
			if s.name != "" {
				err = fmt.Errorf("%s: %w", s.name, err)
			}
			return jsonl.Line{}, err
		}
		l.File = s.name
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

// Read reads every input's lines, each input's numbered from 1. A read error stops the reading; the lines read so
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
