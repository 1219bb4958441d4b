package cli

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/jessevdk/go-flags"

	"github.com/claude-bottle/bottle/internal/exitcode"
)

// Manual is what a tool says about itself. --help and the tool's man page
// are both written from the parser newParser makes of it, so they never
// disagree; completion (GO_FLAGS_COMPLETION) reads the same parser.
type Manual struct {
	Name string // bottle-ls
	// Summary is one line for the man page's NAME section.
	Summary string
	// Usage is what Tool.Parse takes: the synopsis ("[OPTIONS]"), a blank
	// line, then the description.
	Usage string
	// Options is a pointer to a zero value of the tool's options struct.
	Options any
	// Env are the environment variables the tool reads besides the ones
	// every tool does (CommonEnv), as name and meaning.
	Env [][2]string
}

// CommonEnv are the environment variables every tool reads.
var CommonEnv = [][2]string{
	{"BOTTLE_PREFIX", "the resource name prefix when --prefix is not given (default claude-bottle-)"},
	{"BOTTLE_STATE_DIR", "the state root when --state-dir is not given (default ~/.claude-bottle/state)"},
	{"DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG", "which Docker engine, as the docker CLI reads them (unix:// or tcp://)"},
	{"DOCKER_TLS_VERIFY, DOCKER_TLS, DOCKER_CERT_PATH", "TLS to the engine, as the docker CLI reads them"},
	{"DOCKER_API_VERSION", "pin the Engine API version (skips the version ping)"},
	{"BOTTLE_ENGINE_TIMEOUT", "how long one engine call may take (a Go duration; default 30s)"},
	{"BOTTLE_SMOLVM, BOTTLE_SMOLVM_TIMEOUT", "the smolvm binary (default: smolvm on PATH) and how long one smolvm call may take"},
	{"NO_COLOR", "no colour in tables and plans"},
	{"GO_FLAGS_COMPLETION", "print completions for the arguments instead of running (1, or verbose for descriptions): flags, fixed values, docker context names and the state dirs under the state root; what the bash and zsh completion scripts use"},
}

// Tools are the toolkit's commands, for SEE ALSO.
var Tools = []string{"bottle-ls", "bottle-plan-cleanup", "bottle-reap", "bottle-cleanup", "bottle-launch"}

// splitUsage splits a usage text into its synopsis and its description.
func splitUsage(usage string) (synopsis, description string) {
	synopsis, description, _ = strings.Cut(usage, "\n\n")
	return strings.TrimSpace(synopsis), strings.TrimSpace(description)
}

// newParser is the one parser of a tool: Tool.Parse parses with it (and
// prints --help from it), Manual.WriteManPage writes the man page from it.
func newParser(name, usage string, opts any) (*flags.Parser, error) {
	p := flags.NewNamedParser(name, flags.HelpFlag|flags.PassDoubleDash)
	p.Usage = usage
	if _, err := p.AddGroup("Options", "", opts); err != nil {
		return nil, fmt.Errorf("internal: flags: %w", err)
	}
	return p, nil
}

// Parser is the tool's parser as --help prints from it: its options and the
// help group.
func (m Manual) Parser() (*flags.Parser, error) {
	p, err := newParser(m.Name, m.Usage, m.Options)
	if err != nil {
		return nil, err
	}
	// Parsing nothing adds the help group, as a parse of --help does (and
	// GO_FLAGS_COMPLETION in the environment must not print completions).
	p.CompletionHandler = func([]flags.Completion) {}
	if _, err := p.ParseArgs(nil); err != nil {
		return nil, fmt.Errorf("internal: flags: %w", err)
	}
	return p, nil
}

// WriteManPage writes the tool's man page, section 1, in groff's man
// format: go-flags' own page (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, from
// the parser --help prints from) without a date (so a page changes only
// when the tool does), with dashes typeset as minus signs (so an option
// copied from the page works), then EXIT STATUS, ENVIRONMENT and SEE ALSO.
func (m Manual) WriteManPage(w io.Writer) error {
	p, err := m.Parser()
	if err != nil {
		return err
	}
	synopsis, description := splitUsage(m.Usage)
	p.Usage = synopsis
	p.ShortDescription = m.Summary
	p.LongDescription = description
	var page bytes.Buffer
	p.WriteManPage(&page)

	var out strings.Builder
	for i, line := range strings.Split(strings.TrimRight(page.String(), "\n"), "\n") {
		switch {
		case i == 0 && strings.HasPrefix(line, ".TH "):
			fmt.Fprintf(&out, ".TH %s 1 \"\" \"bottle\" \"bottle manual\"\n", strings.ToUpper(m.Name))
			// no hyphenation, ragged right: names and options stay whole
			out.WriteString(".nh\n.ad l\n")
		case isRequest(line):
			out.WriteString(line + "\n")
		default:
			out.WriteString(manText(line) + "\n")
		}
	}
	out.WriteString(".SH EXIT STATUS\n")
	for _, e := range exitcode.Table {
		fmt.Fprintf(&out, ".TP\n\\fB%d\\fR\n%s\n", e.Code, manText(e.Meaning))
	}
	out.WriteString(".SH ENVIRONMENT\n")
	for _, e := range append(append([][2]string{}, CommonEnv...), m.Env...) {
		fmt.Fprintf(&out, ".TP\n\\fB%s\\fR\n%s\n", manText(e[0]), manText(e[1]))
	}
	out.WriteString(".SH SEE ALSO\n")
	var see []string
	for _, t := range Tools {
		if t != m.Name {
			see = append(see, fmt.Sprintf("\\fB%s\\fR(1)", manText(t)))
		}
	}
	out.WriteString(strings.Join(see, ", ") + "\n")
	_, err = io.WriteString(w, out.String())
	return err
}

// isRequest reports whether a line of go-flags' page is one of the
// requests it writes (.TH, .SH, .SS, .TP), not text.
func isRequest(line string) bool {
	for _, r := range []string{".TH ", ".SH ", ".SS ", ".TP"} {
		if line == strings.TrimSpace(r) || strings.HasPrefix(line, r) {
			return true
		}
	}
	return false
}

// manText makes a line of text safe for groff: a leading . or ' would be
// read as a request, and a plain - is typeset as a hyphen, not the minus
// an option needs (\- is left as go-flags wrote it).
func manText(line string) string {
	var b strings.Builder
	if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
		b.WriteString(`\&`)
	}
	prev := rune(0)
	for _, r := range line {
		if r == '-' && prev != '\\' {
			b.WriteString(`\-`)
		} else {
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// printCompletions prints completion candidates one a line, as go-flags
// does: with verbose and more than one candidate, each followed by its
// description after "  # ".
func printCompletions(w io.Writer, items []flags.Completion, verbose bool) {
	var b strings.Builder
	width := 0
	for _, it := range items {
		width = max(width, len(it.Item))
	}
	for _, it := range items {
		b.WriteString(it.Item)
		if verbose && len(items) > 1 && it.Description != "" {
			b.WriteString(strings.Repeat(" ", width-len(it.Item)) + "  # " + it.Description)
		}
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}
