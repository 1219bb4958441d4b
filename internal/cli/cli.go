// Package cli is the one convention every bottle tool follows: its streams
// and environment come in as an Env (nothing below a main touches os.Stdin,
// os.Stdout, os.Stderr, os.Getenv or os.Exit), flags are parsed with go-flags
// (--help to stdout, exit 0), errors are printed once as "bottle-<tool>: ...",
// and the exit code comes from the one table in package exitcode.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jessevdk/go-flags"
	"github.com/mattn/go-isatty"

	"github.com/claude-bottle/bottle/internal/ansi"
	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/exitcode"
)

// Version is the toolkit's version, set at link time with
// -ldflags "-X github.com/claude-bottle/bottle/internal/cli.Version=v1.2.3".
var Version = ""

// VersionString returns the version to print: the linked one (make build),
// else what the build info says (see versionFrom), else "devel".
func VersionString() string {
	if Version != "" {
		return Version
	}
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi)
}

// versionFrom reads a binary's version from its build info: the module
// version (`go install module/cmd/...@v1.2.3`, or the pseudo-version go
// stamps from git, "+dirty" when the tree had changes), else the git
// revision the build stamped ("devel-<12 hex>", "-dirty" when modified),
// else "devel" (built without version control information, e.g. with
// -buildvcs=false or outside a git clone).
func versionFrom(bi *debug.BuildInfo) string {
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(rev) >= 12 {
		v := "devel-" + rev[:12]
		if modified {
			v += "-dirty"
		}
		return v
	}
	return "devel"
}

// Env is everything a tool gets from the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Terminal flags: whether each stream is a terminal.
	StdinTTY, StdoutTTY, StderrTTY bool
	// Now is the clock (ages, --older-than).
	Now func() time.Time
	// Open opens the backends: all.Open, which a tool's Main gives;
	// tests give a fake engine's.
	Open backend.Opener
}

// OSEnv is the process's real environment, with open as the way to the
// backends. Only mains call it.
func OSEnv(open backend.Opener) Env {
	return Env{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Getenv:    os.Getenv,
		StdinTTY:  isTerminal(os.Stdin.Fd()),
		StdoutTTY: isTerminal(os.Stdout.Fd()),
		StderrTTY: isTerminal(os.Stderr.Fd()),
		Now:       time.Now,
		Open:      open,
	}
}

func isTerminal(fd uintptr) bool { return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd) }

// RunFunc is a tool's entry point.
type RunFunc func(ctx context.Context, args []string, env Env) int

// Main runs a tool with the process's arguments, environment and signals,
// and returns its exit code. A first SIGINT/SIGTERM cancels ctx so the tool
// can stop cleanly; a second one is left to the default handler (the tool
// dies), so a stuck tool can always be stopped. bottle-launch runs under
// it (its teardown after a signal takes as long as it takes); the other
// tools run under MainBounded.
func Main(open backend.Opener, run RunFunc) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	defer stop()
	return run(ctx, os.Args[1:], OSEnv(open))
}

// StopWithin is how long a tool under MainBounded may take, after
// SIGINT/SIGTERM, to write what it has and exit.
const StopWithin = time.Second

// MainBounded is Main for the tools that only look and reap: a first
// SIGINT/SIGTERM cancels ctx, and whatever the tool is waiting on (a hung
// engine call, an open() that blocks) it exits 130 within StopWithin; a
// second signal exits 130 at once. A reader of stdout that goes away does
// not kill it: writes then fail with EPIPE, which the tool handles (the
// reaper finishes its removals in flight). SIGPIPE is caught, not ignored,
// so the programs a tool runs (smolvm) get the default disposition.
func MainBounded(open backend.Opener, run RunFunc) int {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	name := filepath.Base(os.Args[0])
	var signalled atomic.Bool
	go func() {
		<-sigs
		signalled.Store(true)
		cancel()
		select {
		case <-sigs:
		case <-time.After(StopWithin):
			fmt.Fprintf(os.Stderr, "%s: interrupted; stopped without waiting longer for what was in progress\n", name)
		}
		os.Exit(exitcode.Interrupted)
	}()
	code := run(ctx, os.Args[1:], OSEnv(open))
	if signalled.Load() && code != exitcode.OK {
		code = exitcode.Interrupted
	}
	return code
}

// Tool is a running tool: its name (for messages) and its environment.
type Tool struct {
	Name string
	Env  Env
}

// Errorf prints one "name: message" line on stderr, Printable: a name it
// echoes cannot move the cursor or end the line.
func (t *Tool) Errorf(format string, args ...any) {
	fmt.Fprintf(t.Env.Stderr, "%s: %s\n", t.Name, ansi.Printable(fmt.Sprintf(format, args...)))
}

// Exit prints err once, as "name: err", and returns its exit code.
func (t *Tool) Exit(err error) int {
	if err == nil {
		return exitcode.OK
	}
	if errors.Is(err, context.Canceled) {
		// A signal stopped the tool while it was asking: say so, not
		// the cancelled call's words.
		t.Errorf("interrupted")
		return exitcode.Interrupted
	}
	var s exitcode.Silent
	if !errors.As(err, &s) {
		t.Errorf("%s", oneLine(err.Error()))
	}
	return exitcode.Of(err)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// Common are the flags every tool has.
type Common struct {
	Version bool `long:"version" description:"print the version and exit"`
}

// Parse parses args into opts (a struct of go-flags groups). It returns
// done=true when the tool should stop now with err's code: --help (printed on
// stdout, exit 0), --version (likewise) or a usage error.
func (t *Tool) Parse(opts any, args []string, usage string) (rest []string, done bool, err error) {
	p, err := newParser(t.Name, usage, opts)
	if err != nil {
		return nil, true, err
	}
	// GO_FLAGS_COMPLETION in the environment (go-flags reads it from the
	// process) asks for completions of args instead of a run: they are
	// printed on stdout, and the tool stops there. The values of an option
	// with a `complete` tag are looked up here (complete.go).
	completed := false
	p.CompletionHandler = func(items []flags.Completion) {
		completed = true
		if own, ok := t.completeValues(p, args); ok {
			items = own
		}
		printCompletions(t.Env.Stdout, items, t.Env.Getenv("GO_FLAGS_COMPLETION") == "verbose")
	}
	rest, err = p.ParseArgs(args)
	if completed {
		return nil, true, nil
	}
	if err != nil {
		var fe *flags.Error
		if errors.As(err, &fe) && fe.Type == flags.ErrHelp {
			fmt.Fprintln(t.Env.Stdout, strings.TrimRight(fe.Message, "\n"))
			return nil, true, nil
		}
		if fe != nil && fe.Type == flags.ErrUnknownFlag {
			// go-flags says "unknown flag `x'": name it as it was typed.
			name := strings.Trim(strings.TrimPrefix(fe.Message, "unknown flag "), "`'")
			dash := "--"
			if len(name) == 1 {
				dash = "-"
			}
			return nil, true, exitcode.Usagef("unknown flag %s%s (see %s --help)", dash, name, t.Name)
		}
		return nil, true, exitcode.Usagef("%s (see %s --help)", flagMessage(err), t.Name)
	}
	if c, ok := opts.(interface{ common() *Common }); ok && c.common().Version {
		fmt.Fprintf(t.Env.Stdout, "%s %s\n", t.Name, VersionString())
		return nil, true, nil
	}
	return rest, false, nil
}

// ParseNoArgs is Parse for a tool that takes no arguments: a stray one is a
// usage error ("unexpected argument "x": <why> (see <tool> --help)"; why
// defaults to "<tool> takes no arguments"). When opts embeds a Scope, it is
// resolved from the environment too.
func (t *Tool) ParseNoArgs(opts any, args []string, usage, why string) (done bool, err error) {
	rest, done, err := t.Parse(opts, args, usage)
	if done {
		return true, err
	}
	if len(rest) > 0 {
		if why == "" {
			why = t.Name + " takes no arguments"
		}
		return true, exitcode.Usagef("unexpected argument %q: %s (see %s --help)", rest[0], why, t.Name)
	}
	if s, ok := opts.(interface{ scope() *Scope }); ok {
		if err := s.scope().Resolve(t.Env); err != nil {
			return true, err
		}
	}
	return false, nil
}

func flagMessage(err error) string {
	m := err.Error()
	// A value our own type refused: "invalid argument for flag --x
	// (expected T): why" reads better as "--x: why".
	if i := strings.Index(m, "invalid argument for flag "); i >= 0 {
		if j := strings.Index(m, " (expected "); j > i {
			if k := strings.Index(m[j:], "): "); k > 0 {
				m = m[i+len("invalid argument for flag "):j] + ": " + m[j+k+3:]
			}
		}
	}
	// go-flags quotes as `name'; make it read like the rest of our messages.
	m = strings.NewReplacer("`", "", "'", "").Replace(m)
	return oneLine(m)
}

func (c *Common) common() *Common { return c }

// Scope is the prefix and state root every bottle tool works within.
type Scope struct {
	Prefix   string `long:"prefix" unquote:"false" value-name:"PREFIX" description:"resource name prefix (default $BOTTLE_PREFIX, else claude-bottle-)"`
	StateDir string `long:"state-dir" unquote:"false" value-name:"DIR" description:"state root (default $BOTTLE_STATE_DIR, else ~/.claude-bottle/state)"`
	// DefaultRoot is set by Resolve when StateDir is the default root,
	// ~/.claude-bottle/state (however it was given): the one root the
	// cleanup tools take without bottle-launch's marker in it.
	DefaultRoot bool `no-flag:"t"`
}

func (s *Scope) scope() *Scope { return s }

// Resolve fills in defaults from the environment and checks the values.
func (s *Scope) Resolve(env Env) error {
	if s.Prefix == "" {
		s.Prefix = env.Getenv("BOTTLE_PREFIX")
	}
	if s.Prefix == "" {
		s.Prefix = bottle.DefaultPrefix
	}
	if err := CheckPrefix(s.Prefix); err != nil {
		return err
	}
	if s.StateDir == "" {
		s.StateDir = env.Getenv("BOTTLE_STATE_DIR")
	}
	if s.StateDir == "" {
		home := env.Getenv("HOME")
		if home == "" {
			return exitcode.Usagef("cannot find the state root: HOME is not set; pass --state-dir or set BOTTLE_STATE_DIR")
		}
		s.StateDir = filepath.Join(home, bottle.DefaultStateRoot)
	}
	abs, err := filepath.Abs(s.StateDir)
	if err != nil {
		return exitcode.Usagef("state root %q: %v", s.StateDir, err)
	}
	s.StateDir = filepath.Clean(abs)
	if s.StateDir == "/" {
		return exitcode.Usagef("state root must not be /; pass a directory such as ~/.claude-bottle/state")
	}
	if err := checkStateRoot(s.StateDir, env.Getenv("HOME")); err != nil {
		return err
	}
	s.DefaultRoot = isDefaultRoot(s.StateDir, env.Getenv("HOME"))
	// A missing root is fine (no state dirs yet; bottle-launch makes it);
	// anything else that is not a directory is a mistake.
	if fi, err := os.Stat(s.StateDir); err == nil && !fi.IsDir() {
		return exitcode.Usagef("state root %s is not a directory; pass --state-dir a directory of its own such as ~/.claude-bottle/state (made when missing)", s.StateDir)
	}
	return nil
}

// isDefaultRoot reports whether root is ~/.claude-bottle/state, as written
// or through symlinks.
func isDefaultRoot(root, home string) bool {
	if home == "" || !filepath.IsAbs(home) {
		return false
	}
	def := filepath.Join(home, bottle.DefaultStateRoot)
	if root == def {
		return true
	}
	r, err1 := filepath.EvalSymlinks(root)
	d, err2 := filepath.EvalSymlinks(def)
	return err1 == nil && err2 == nil && r == d
}

// checkStateRoot refuses a state root that is /, the home dir or one of its
// ancestors, as written or through symlinks: every dir there (~/src, /home)
// would look like an orphan state dir.
func checkStateRoot(root, home string) error {
	resolve := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return p
	}
	bad := func(root string) bool {
		if root == "/" {
			return true
		}
		for _, h := range []string{home, resolve(home)} {
			if h == "" || !filepath.IsAbs(h) {
				continue
			}
			if rel, err := filepath.Rel(root, filepath.Clean(h)); err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, "../"))) {
				return true
			}
		}
		return false
	}
	if bad(root) || bad(resolve(root)) {
		return exitcode.Usagef("state root %s is /, your home dir or one of its ancestors (through symlinks too); pass a directory of its own such as ~/.claude-bottle/state", root)
	}
	return nil
}

// CheckPrefix refuses prefixes that could match what is not a bottle's: it
// must start with a letter or digit, hold only [A-Za-z0-9_.-] and be at
// least three characters long.
func CheckPrefix(p string) error {
	bad := len(p) < 3
	for i, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case (r == '-' || r == '_' || r == '.') && i > 0:
		default:
			bad = true
		}
	}
	if bad {
		return exitcode.Usagef("bad prefix %q: use at least 3 characters of [A-Za-z0-9_.-], starting with a letter or digit (default %s)", p, bottle.DefaultPrefix)
	}
	return nil
}
