package cli

import (
	"reflect"
	"testing"
)

type completeOpts struct {
	Scope
	Engines
	Detach bool     `short:"d" long:"detach"`
	Names  []string `long:"name" complete:"state-dir"`
	Jobs   int      `short:"j" long:"jobs"`
}

// TestValueOf: the option whose value the last word is, and the values
// given before it, as go-flags' completion walks the line.
func TestValueOf(t *testing.T) {
	p, err := newParser("t", "", &completeOpts{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args          []string
		opt           string // "" when none
		prefix, match string
		typed         map[string][]string
	}{
		{[]string{""}, "", "", "", map[string][]string{}},
		{[]string{"--name", ""}, "name", "", "", map[string][]string{}},
		{[]string{"--name", "ab"}, "name", "", "ab", map[string][]string{}},
		{[]string{"--name=ab"}, "name", "--name=", "ab", map[string][]string{}},
		// a bool takes no value: the word after it is no option's
		{[]string{"--detach", ""}, "", "", "", map[string][]string{}},
		{[]string{"-d", "--context", "x"}, "context", "", "x", map[string][]string{}},
		// values given before, with a space and with =, by long name
		{[]string{"--state-dir", "/r", "--prefix=p-", "-j", "3", "--name", "a", "--name", ""}, "name", "", "",
			map[string][]string{"state-dir": {"/r"}, "prefix": {"p-"}, "jobs": {"3"}, "name": {"a"}}},
		// a value that looks like an option is still the value
		{[]string{"--state-dir", "--name", ""}, "", "", "", map[string][]string{"state-dir": {"--name"}}},
		// after --, arguments only
		{[]string{"--", "--name", ""}, "", "", "", nil},
		// an unknown flag, then a word: no option's
		{[]string{"--nope", ""}, "", "", "", map[string][]string{}},
		// an option name being typed, not a value
		{[]string{"--na"}, "", "", "", map[string][]string{}},
	} {
		got := valueOf(p, c.args)
		name := ""
		if got.opt != nil {
			name = got.opt.LongName
		}
		if name != c.opt || got.prefix != c.prefix || got.match != c.match || !reflect.DeepEqual(got.typed, c.typed) {
			t.Errorf("valueOf(%q) = %q %q %q %v; want %q %q %q %v", c.args, name, got.prefix, got.match, got.typed, c.opt, c.prefix, c.match, c.typed)
		}
	}
}
