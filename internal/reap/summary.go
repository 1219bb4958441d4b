package reap

import (
	"fmt"
	"strings"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// Summary counts a run's results.
type Summary struct {
	Counts map[string]int
	// Interrupted is set when the run was told to stop before it was done.
	Interrupted bool
	DryRun      bool
	// ReadErr is why the reading of the plan stopped early (the lines read
	// before it were answered).
	ReadErr error
	// Unread is set when an interrupted run stopped before it had read the
	// whole plan: the lines after the last answered one have no result.
	Unread bool
}

// String is the one-line summary: "removed 12, gone 1, skipped 2, failed 0, invalid 0".
func (s Summary) String() string {
	first := bottle.Removed
	if s.DryRun {
		first = bottle.WouldRemove
	}
	var parts []string
	for _, st := range []string{first, bottle.Gone, bottle.Skipped, bottle.Failed, bottle.Invalid} {
		parts = append(parts, fmt.Sprintf("%s %d", st, s.Counts[st]))
	}
	out := strings.Join(parts, ", ")
	if s.Interrupted {
		out += " (interrupted)"
	}
	return out
}

// Total is how many lines were answered.
func (s Summary) Total() int {
	n := 0
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Ok reports whether every line ended removed, gone, skipped or would-remove.
func (s Summary) Ok() bool { return s.Counts[bottle.Failed] == 0 && s.Counts[bottle.Invalid] == 0 }
