// Package exitcode is the one exit-code table every bottle tool uses. The
// docs/conventions.md ("Exit codes") documents it; change both together.
package exitcode

import (
	"errors"
	"fmt"
)

// The table.
const (
	OK          = 0   // everything asked for was done (an empty result included)
	Failure     = 1   // runtime failure, or some items failed / were invalid
	Usage       = 2   // bad flags or arguments, a bad --jq, a refused prompt-less run
	BadInput    = 3   // input the tool cannot use at all (an unparseable spec)
	Interrupted = 130 // stopped by SIGINT/SIGTERM before the work was done
)

// Table is the table with what each code means, for the man pages.
var Table = []struct {
	Code    int
	Meaning string
}{
	{OK, "done, an empty result included (bottle-launch in the foreground: the agent's own exit code)"},
	{Failure, "runtime or partial failure: the engine or a backend could not be asked (a plan is then incomplete), an item failed or was invalid, a --jq runtime error, a launch that failed (what it made is removed), a cleanup not confirmed"},
	{Usage, "usage: an unknown flag, a stray argument, a bad flag value or --jq expression, a state root or plan file that cannot be used, no terminal to ask and no --yes"},
	{BadInput, "input the tool cannot use at all: a bad bottle-launch spec (refused before anything is made)"},
	{Interrupted, "interrupted by SIGINT or SIGTERM (bottle-launch: also SIGHUP); what was answered is written"},
}

// Error is an error that knows the exit code it ends a tool with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode returns the code the error ends a tool with.
func (e *Error) ExitCode() int { return e.Code }

// Usagef returns a usage error (exit 2).
func Usagef(format string, args ...any) error {
	return &Error{Code: Usage, Err: fmt.Errorf(format, args...)}
}

// BadInputf returns a malformed-input error (exit 3).
func BadInputf(format string, args ...any) error {
	return &Error{Code: BadInput, Err: fmt.Errorf(format, args...)}
}

// Silent is an error whose message was already printed: the tool exits with
// Code and prints nothing more.
type Silent struct{ Code int }

func (s Silent) Error() string { return fmt.Sprintf("exit %d", s.Code) }

// ExitCode returns the code.
func (s Silent) ExitCode() int { return s.Code }

// Of returns the exit code an error ends a tool with: OK for nil, the
// error's own code when it has one, Failure otherwise.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return Failure
}
