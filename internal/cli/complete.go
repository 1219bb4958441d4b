package cli

import (
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jessevdk/go-flags"

	"github.com/claude-bottle/bottle/internal/engines"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Completion of values that are on this machine rather than in the flags'
// definitions. go-flags completes flag names and the values a type lists
// (its Completer: --kind, --backend), but a Completer is given nothing
// but the word typed: not the environment, not the rest of the line. An
// option whose field has a `complete` tag is completed here instead, from
// the tool's Env and the flags already typed before it:
//
//	complete:"context"    the docker contexts, as `docker context ls` lists
//	                      them, read from the CLI's store as --context
//	                      reads them (engines.Names; no docker CLI needed)
//	complete:"state-dir"  the slugs of the state dirs under the state root
//	                      (statedir.Slugs); the names, prefix + slug, once
//	                      the word typed starts with the prefix
//	complete:"resumable"  those of them --resume could start again, as far
//	                      as their bottle.json and lock tell
//
// The state root and prefix are the ones the run would use: --state-dir
// and --prefix typed earlier on the line (a leading ~/ read as the shell
// will), else $BOTTLE_STATE_DIR and $BOTTLE_PREFIX, else the defaults. No
// engine is asked, and the look takes at most CompleteWithin.

// CompleteWithin bounds how long a tool looks for the values to complete:
// a state root or docker config on a file system that does not answer
// never holds a shell's prompt longer (the tool then offers nothing).
const CompleteWithin = time.Second

// completing is the option whose value the last word of args is, as
// go-flags' completion walks the line: prefix is what the completion
// must start with (--opt= for a value written in the same word), match the
// value typed so far, typed the values given before it to any option by
// its long name, in order.
type completing struct {
	opt           *flags.Option
	prefix, match string
	typed         map[string][]string
}

// valueOf finds the option the last word is a value of, or nil.
func valueOf(p *flags.Parser, args []string) completing {
	c := completing{typed: map[string][]string{}}
	if len(args) == 0 {
		args = []string{""}
	}
	var opt *flags.Option
	for i := 0; i < len(args)-1; i++ {
		a := args[i]
		opt = nil
		if a == "--" {
			return completing{} // what follows is an argument, not a value
		}
		var o *flags.Option
		var name string
		if long, ok := strings.CutPrefix(a, "--"); ok {
			n, v, inline := strings.Cut(long, "=")
			if o = p.FindOptionByLongName(n); o == nil {
				continue
			}
			if inline {
				c.typed[n] = append(c.typed[n], v)
				continue
			}
			name = n
		} else if short, ok := strings.CutPrefix(a, "-"); ok && short != "" {
			// a short option alone takes its value from the next word
			r, size := utf8.DecodeRuneInString(short)
			if o = p.FindOptionByShortName(r); o == nil || size != len(short) {
				continue
			}
			name = o.LongName
		} else {
			continue
		}
		if !takesValue(o) {
			continue
		}
		if i+1 < len(args)-1 {
			i++
			c.typed[name] = append(c.typed[name], args[i])
			continue
		}
		opt = o
	}
	last := args[len(args)-1]
	if opt != nil {
		c.opt, c.match = opt, last
		return c
	}
	if long, ok := strings.CutPrefix(last, "--"); ok {
		if n, v, inline := strings.Cut(long, "="); inline {
			if o := p.FindOptionByLongName(n); o != nil && takesValue(o) {
				c.opt, c.prefix, c.match = o, "--"+n+"=", v
			}
		}
	}
	return c
}

// takesValue reports whether o takes a value (every option of a kind
// other than bool does; none of the tools' is optional).
func takesValue(o *flags.Option) bool {
	t := o.Field().Type
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t.Kind() != reflect.Bool && !o.OptionalArgument
}

// completeValues returns the completions of the value being typed when
// its option has a `complete` tag (ok), else ok is false: go-flags'
// own completions stand.
func (t *Tool) completeValues(p *flags.Parser, args []string) (items []flags.Completion, ok bool) {
	c := valueOf(p, args)
	if c.opt == nil {
		return nil, false
	}
	kind := c.opt.Field().Tag.Get("complete")
	if kind == "" {
		return nil, false
	}
	found := make(chan []string, 1)
	go func() { found <- t.values(kind, c) }()
	var values []string
	select {
	case values = <-found:
	case <-time.After(CompleteWithin):
	}
	given := c.typed[c.opt.LongName]
	for _, v := range values {
		if strings.HasPrefix(v, c.match) && !slices.Contains(given, v) {
			items = append(items, flags.Completion{Item: c.prefix + v})
		}
	}
	return items, true
}

// values are the values of kind (a `complete` tag) there are; nothing
// when they cannot be read.
func (t *Tool) values(kind string, c completing) []string {
	switch kind {
	case "context":
		names, _ := engines.Names(t.Env.Getenv)
		return names
	case "state-dir", "resumable":
		s := Scope{Prefix: lastOf(c.typed["prefix"]), StateDir: t.homeDir(lastOf(c.typed["state-dir"]))}
		if s.Resolve(t.Env) != nil {
			return nil
		}
		slugs, _ := statedir.Slugs(s.StateDir, s.Prefix, kind == "resumable")
		if strings.HasPrefix(c.match, s.Prefix) {
			for i := range slugs {
				slugs[i] = s.Prefix + slugs[i]
			}
		}
		return slugs
	}
	return nil
}

func lastOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// homeDir reads a leading ~ or ~/ in a path typed on the line as the
// shell will when the command runs: $HOME.
func (t *Tool) homeDir(path string) string {
	home := t.Env.Getenv("HOME")
	if home == "" {
		return path
	}
	if path == "~" {
		return home
	}
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		return home + "/" + rest
	}
	return path
}

// Completions are the values that begin with match, for a flag type's
// go-flags Complete method.
func Completions(values []string, match string) []flags.Completion {
	var out []flags.Completion
	for _, v := range values {
		if strings.HasPrefix(v, match) {
			out = append(out, flags.Completion{Item: v})
		}
	}
	return out
}
