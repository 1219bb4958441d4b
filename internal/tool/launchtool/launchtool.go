// Package launchtool is bottle-launch: start one bottle on the docker
// backend (or, --backend smolmachines, in a smolvm microVM with its sidecar
// in Docker), in the foreground (default) or detached.
package launchtool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/engines"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/jsonl"
	"github.com/claude-bottle/bottle/internal/launch"
	"github.com/claude-bottle/bottle/internal/plan"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/jessevdk/go-flags"
)

const usage = `[OPTIONS]

Starts one bottle on the docker backend from a JSON spec (--spec FILE, or
stdin when it is not a terminal): an internal network, an egress network, a
volume for the agent's home, the egress-proxy sidecar and the agent, all
compose-labelled as project <prefix><agent>-<5 random>. With --backend
smolmachines (or "backend": "smolmachines" in the spec) the agent runs in a
smolvm machine <prefix><slug> made from its image (docker save), allowed to
reach only smolvm's gateway, and the sidecar in Docker as
<prefix>sidecars-<slug> on <prefix>bundle-<slug>, published on 127.0.0.1.

In the foreground (default) the agent's stdio is attached and its exit code
is bottle-launch's; when it ends (or on SIGINT, SIGTERM, SIGHUP) the
transcript is saved into the state dir and everything else is removed. A
crashed agent leaves a .preserve marker. A foreground launcher that is
killed (SIGKILL) is covered by its guardian, a process of its own that
then ends the bottle the same way. --detach prints the bottle as one JSON
line (bottle-ls's shape) and leaves it running.

--resume NAME starts that bottle again from its state dir (NAME is the
bottle's name or its slug, as bottle-ls --state shows them): same
slug and state dir, the spec from its bottle.json (env values taken again
from the environment: bottle.json keeps their names only) unless --spec or
the flags say otherwise, the saved transcript restored into the new home's
~/.claude/projects, and the spec's "continue" args (for a claude command:
--continue) appended to the command so the agent continues.`

// Manual is bottle-launch's manual: its --help and man page.
func Manual() cli.Manual {
	return cli.Manual{Name: "bottle-launch", Summary: "start a bottle: an AI agent in a container whose only way out is an egress proxy", Usage: usage, Options: &options{},
		Env: [][2]string{{EnvSidecarImage, "the sidecar image when neither --sidecar-image nor the spec names one (default " + launch.DefaultSidecarImage + ")"}},
	}
}

// EnvSidecarImage names the sidecar's image when neither --sidecar-image
// nor the spec does.
const EnvSidecarImage = "BOTTLE_SIDECAR_IMAGE"

type options struct {
	cli.Common
	cli.Scope
	Spec  string `long:"spec" unquote:"false" value-name:"FILE" description:"the bottle spec (JSON); default: stdin when it is not a terminal"`
	Agent string `long:"agent" unquote:"false" value-name:"NAME" description:"the agent's name (overrides the spec's)"`
	Image string `long:"image" unquote:"false" value-name:"IMAGE" description:"the agent's image (overrides the spec's)"`

	SidecarImage string `long:"sidecar-image" unquote:"false" value-name:"IMAGE" description:"the egress-proxy sidecar's image (overrides the spec's; default $BOTTLE_SIDECAR_IMAGE, else ghcr.io/luckypipewrench/pipelock:latest)"`

	Allow   []string `long:"allow" unquote:"false" value-name:"HOST" description:"a host the sidecar lets through (repeatable; replaces the spec's list)"`
	Detach  bool     `short:"d" long:"detach" description:"start the bottle, print it as one JSON line and exit"`
	Resume  string   `long:"resume" complete:"resumable" unquote:"false" value-name:"NAME" description:"start this bottle again from its state dir: its name (prefix + slug) or its slug (transcript restored, the agent continues)"`
	Backend Backend  `long:"backend" unquote:"false" value-name:"BACKEND" description:"where the bottle runs: docker (default) or smolmachines (the agent in a smolvm microVM, its sidecar in Docker; overrides the spec's)"`
	Context string   `long:"context" complete:"context" unquote:"false" value-name:"NAME" description:"launch on the engine of docker context NAME (default is DOCKER_HOST's engine or the default socket); without it, the engine DOCKER_HOST, DOCKER_CONTEXT or the current context names"`
	// Guardian runs this process as a foreground launcher's guardian
	// (started by the launcher itself; see launch.Guard).
	Guardian string `long:"guardian" hidden:"true" unquote:"false" value-name:"STATE-DIR"`
}

// Backend is a --backend value; completion offers the backends.
type Backend string

// Complete implements go-flags' Completer.
func (Backend) Complete(match string) []flags.Completion {
	return cli.Completions(bottle.BackendOrder, match)
}

// Main runs bottle-launch in this process. SIGHUP (a closed terminal)
// ends a foreground bottle like SIGINT and SIGTERM do.
func Main() int {
	return cli.Main(all.Open, func(ctx context.Context, args []string, env cli.Env) int {
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGHUP)
		defer stop()
		return Run(ctx, args, env)
	})
}

// Run runs bottle-launch.
func Run(ctx context.Context, args []string, env cli.Env) int {
	t := &cli.Tool{Name: "bottle-launch", Env: env}
	return t.Exit(run(ctx, t, args))
}

func run(ctx context.Context, t *cli.Tool, args []string) error {
	var o options
	if done, err := t.ParseNoArgs(&o, args, usage, "the command goes in the spec"); done {
		return err
	}
	// --context NAME: every engine this run opens (its guardian's too) is
	// that context's, as docker --context NAME reads the environment.
	engineName, err := engines.Current(t.Env.Getenv)
	if o.Context != "" {
		known, kerr := engines.Names(t.Env.Getenv)
		if kerr != nil {
			return kerr
		}
		if !slices.Contains(known, o.Context) {
			return exitcode.Usagef("--context %s: no docker context of that name; docker context ls lists them", o.Context)
		}
		engineName, err = o.Context, nil
		t.Env.Getenv = engines.Getenv(t.Env.Getenv, o.Context)
	}
	if o.Guardian != "" {
		return guard(ctx, t, o.Guardian)
	}
	if err != nil {
		return err
	}
	var saved *launch.Saved
	var spec launch.Spec
	var specFromStdin bool
	if o.Resume != "" {
		// A resume writes into a state root as a launch does: one that
		// exists is taken only as PrepareRoot takes it (and marked).
		if _, serr := os.Stat(o.StateDir); serr == nil {
			if err := statedir.PrepareRoot(o.StateDir, o.DefaultRoot); err != nil {
				return err
			}
		}
		// the name or the slug, as --name takes them
		if saved, err = launch.OpenSaved(o.StateDir, o.Prefix, plan.NameSlug(o.Resume, o.Prefix)); err != nil {
			return err
		}
		defer saved.Release() // a no-op once the bottle has its lock
		if o.Agent != "" && o.Agent != saved.Meta.Agent {
			return exitcode.Usagef("--agent %s: the bottle of %s is agent %s, and a resume keeps its agent", o.Agent, saved.Meta.Slug, saved.Meta.Agent)
		}
	} else if spec, specFromStdin, err = readSpec(t.Env, o); err != nil {
		return err
	}

	eng, err := engine.Dial(t.Env.Getenv)
	if err != nil {
		return err
	}
	defer eng.Close()
	if saved != nil {
		if err := checkGone(ctx, t, saved); err != nil {
			return err
		}
		if spec, specFromStdin, err = resumeSpec(t.Env, o, saved); err != nil {
			return err
		}
	}

	if err := remoteEngine(spec, eng.Endpoint()); err != nil {
		return err
	}
	if err := checkDataRoot(ctx, eng, spec); err != nil {
		return err
	}
	if spec.ExplicitRoot() {
		t.Errorf("warning: the agent runs as root (the spec's \"user\": %q): all its capabilities are still dropped, but what it writes in the workspace is root's; leave \"user\" out to run it as an unprivileged user", spec.User)
	}
	foreground := !o.Detach
	opt := launch.Options{
		Prefix: o.Prefix, StateRoot: o.StateDir, DefaultRoot: o.DefaultRoot, Version: cli.VersionString(),
		Attach: foreground, Stdin: foreground && !specFromStdin, TTY: foreground && !specFromStdin && t.Env.StdinTTY,
		Now: t.Env.Now,
	}
	if spec.Backend == bottle.Smolmachines {
		// Asked once, before anything is made: smolvm's version, the
		// machine's name, the agent's image.
		c, cerr := smolvmcli.Find(t.Env.Getenv)
		if opt.Smol, err = launch.PrepareSmol(ctx, eng, c, cerr, spec, prefixOf(o, saved), os.Environ()); err != nil {
			return err
		}
	}
	if foreground {
		// The guardian is this program again, in its hidden mode.
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this program to start its guardian: %w", err)
		}
		args := []string{"bottle-launch", "--guardian"}
		if o.Context != "" {
			args = []string{"bottle-launch", "--context", o.Context, "--guardian"}
		}
		opt.Guardian = &launch.GuardianCmd{Path: exe, Args: args}
	}
	var b *launch.Launched
	if saved != nil {
		b, err = saved.Start(ctx, eng, spec, opt)
	} else {
		b, err = launch.Start(ctx, eng, spec, opt)
	}
	if err != nil {
		var ue *launch.UndoError
		var se *launch.StepError
		var mi *launch.MissingImagesError
		switch {
		case errors.As(err, &ue) && errors.Is(err, context.Canceled):
			return &exitcode.Error{Code: exitcode.Interrupted, Err: fmt.Errorf("interrupted while starting; removing what was made failed: %v (run bottle-cleanup)", ue.Undo)}
		case errors.As(err, &ue):
			return err
		case errors.Is(err, context.Canceled):
			// Start checked the engine: nothing of the bottle is left.
			return &exitcode.Error{Code: exitcode.Interrupted, Err: fmt.Errorf("interrupted while starting; removed what was made")}
		case errors.As(err, &mi), exitcode.Of(err) != exitcode.Failure:
			return err
		case errors.As(err, &se):
			// The cause first, then the step; Start checked the engine
			// holds nothing of the bottle.
			return fmt.Errorf("%w; the launch stopped there and removed what it had made", err)
		}
		// Before anything was made (the engine could not be asked).
		return err
	}
	if b.NoIPv6() {
		t.Errorf("warning: the engine's kernel has no IPv6 (its runtime found no /proc/sys/net/ipv6: booted with ipv6.disable=1, or IPv6 is a module not loaded), so the agent runs without the sysctls that turn IPv6 off; with no IPv6 it cannot reach the host over it either (docs/bottle-launch.md)")
	}
	if o.Detach {
		derr := b.Detach()
		info := b.Info()
		info.Detached, info.Engine = true, engineName
		if err := jsonl.NewWriter(t.Env.Stdout).Write(info); err != nil {
			return err
		}
		return derr
	}
	if t.Env.StderrTTY {
		t.Errorf("%s is running (state dir %s)", b.Project.Name, b.Project.StateDir)
	}

	st := launch.Stdio{Stdout: t.Env.Stdout, Stderr: t.Env.Stderr}
	if opt.Stdin {
		st.Stdin = t.Env.Stdin
	}
	var restore func()
	switch {
	case opt.TTY && spec.Backend == bottle.Smolmachines:
		// smolvm puts the terminal in raw mode itself and does not restore
		// it when it is killed.
		restore = keepTerminal(t.Env)
	case opt.TTY:
		restore = terminal(ctx, t.Env, eng, b)
	}
	out, err := b.Run(ctx, st)
	if restore != nil {
		restore()
	}
	// Every ending says where the state dir is and how to go on from it.
	if err != nil {
		t.Errorf("%v", err)
	}
	resume := "resume with: " + resumeCommand(t.Env, o, b.Project.Slug)
	switch {
	case out.Crashed:
		t.Errorf("the agent exited with code %d; its state dir %s is kept with .preserve; %s", out.ExitCode, b.Project.StateDir, resume)
	case out.Interrupted:
		t.Errorf("stopped %s; its state dir %s stays; %s", b.Project.Name, b.Project.StateDir, resume)
	default:
		t.Errorf("the agent exited with code %d; its state dir %s stays; %s", out.ExitCode, b.Project.StateDir, resume)
	}
	if err != nil {
		if out.ExitCode > 0 {
			return exitcode.Silent{Code: out.ExitCode}
		}
		return exitcode.Silent{Code: exitcode.Failure}
	}
	if out.Interrupted {
		return exitcode.Silent{Code: exitcode.Interrupted}
	}
	if out.ExitCode < 0 || out.ExitCode > 255 {
		return exitcode.Silent{Code: exitcode.Failure}
	}
	return exitcode.Silent{Code: out.ExitCode}
}

// resumeCommand is the command that starts the bottle of slug again: with
// --prefix, --state-dir and --context when they were given as flags (the
// environment that gave them otherwise gives them again).
func resumeCommand(env cli.Env, o options, slug string) string {
	cmd := "bottle-launch --resume " + slug
	var def cli.Scope
	if def.Resolve(env) != nil {
		return cmd
	}
	if o.Prefix != def.Prefix {
		cmd += " --prefix " + shellQuote(o.Prefix)
	}
	if o.StateDir != def.StateDir {
		cmd += " --state-dir " + shellQuote(o.StateDir)
	}
	if o.Context != "" {
		cmd += " --context " + shellQuote(o.Context)
	}
	return cmd
}

// shellQuote quotes s for sh when it holds anything but plain characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+=:@%,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// readSpec reads the spec, applies the flags and checks it; it reports
// whether the spec came from stdin (which then cannot be the agent's).
func readSpec(env cli.Env, o options) (launch.Spec, bool, error) {
	var spec launch.Spec
	fromStdin := false
	dir, err := os.Getwd()
	if err != nil {
		return spec, false, err
	}
	switch {
	case o.Spec != "" && o.Spec != "-":
		f, err := os.Open(o.Spec)
		if err != nil {
			return spec, false, exitcode.Usagef("--spec: %v", err)
		}
		defer f.Close()
		if spec, err = launch.Decode(f, o.Spec); err != nil {
			return spec, false, badInput(err)
		}
		abs, _ := filepath.Abs(o.Spec)
		dir = filepath.Dir(abs)
	case o.Spec == "-" || !env.StdinTTY:
		fromStdin = true
		// An empty stdin (cron's /dev/null) is no spec: --agent and
		// --image then make a whole one.
		var se *launch.SpecError
		spec, err = launch.Decode(env.Stdin, "on stdin")
		switch {
		case errors.As(err, &se) && se.Empty && o.Spec != "-" && o.Agent != "" && o.Image != "":
			spec = launch.Spec{}
		case err != nil:
			return spec, false, badInput(err)
		}
	case o.Agent == "" || o.Image == "":
		return spec, false, exitcode.Usagef("no spec: pass --spec FILE, pipe the spec on stdin, or give at least --agent and --image")
	}
	return spec, fromStdin, applyFlags(&spec, env, o, dir)
}

// applyFlags applies the flags to spec, resolves its paths against dir,
// fills in the defaults and checks it.
func applyFlags(spec *launch.Spec, env cli.Env, o options, dir string) error {
	flagged := map[string]string{}
	if o.Agent != "" {
		spec.Agent, flagged["agent"] = o.Agent, "--agent"
	}
	if o.Image != "" {
		spec.Image, flagged["image"] = o.Image, "--image"
	}
	if o.Allow != nil {
		spec.Sidecar.Allow, flagged["allow"] = o.Allow, "--allow"
	}
	switch v := env.Getenv(EnvSidecarImage); {
	case o.SidecarImage != "":
		spec.Sidecar.Image, flagged["sidecar-image"] = o.SidecarImage, "--sidecar-image"
	case spec.Sidecar.Image == "" && v != "":
		spec.Sidecar.Image, flagged["sidecar-image"] = v, "$"+EnvSidecarImage
	}
	if o.Backend != "" {
		spec.Backend, flagged["backend"] = string(o.Backend), "--backend"
	}
	spec.Resolve(dir)
	spec.Defaults()
	if err := spec.Check(flagged); err != nil {
		return badInput(err)
	}
	return nil
}

// checkDataRoot refuses a workspace that is the engine's data dir, as the
// engine names it, or inside it or holding it.
func checkDataRoot(ctx context.Context, eng *engine.Client, spec launch.Spec) error {
	if spec.Workspace == "" {
		return nil
	}
	root, err := eng.DataRoot(ctx)
	if err != nil {
		return err
	}
	if err := spec.CheckWorkspaceEngine(root); err != nil {
		return badInput(err)
	}
	return nil
}

func badInput(err error) error {
	var se *launch.SpecError
	if errors.As(err, &se) && se.Flag != "" {
		return exitcode.Usagef("%s: %s (see bottle-launch --help)", se.Flag, strings.TrimSuffix(se.Msg, "."))
	}
	return exitcode.BadInputf("%v", err)
}

// guard is the guardian process (bottle-launch --guardian DIR): fd 3 is the
// launcher's pipe, fd 4 the state dir's lock file. Interrupts and a closed
// terminal do not stop it (it has a session of its own anyway); what goes
// wrong is written to the state dir's guardian.log, its stdio being
// /dev/null.
func guard(ctx context.Context, t *cli.Tool, dir string) error {
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	ctx = context.WithoutCancel(ctx)
	var st syscall.Stat_t
	if syscall.Fstat(3, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO || syscall.Fstat(4, &st) != nil {
		return exitcode.Usagef("--guardian is bottle-launch's own; it is not for use by hand")
	}
	pipe, lockFile := os.NewFile(3, "launcher"), os.NewFile(4, "lock")
	eng, err := engine.Dial(t.Env.Getenv)
	if err == nil {
		defer eng.Close()
		// A smolmachines bottle's machine is ended through smolvm.
		c, cerr := smolvmcli.Find(t.Env.Getenv)
		var sm *launch.Smol
		if cerr == nil && c.Present() {
			sm = &launch.Smol{CLI: c, Environ: os.Environ()}
		}
		err = launch.Guard(ctx, eng, dir, pipe, statedir.Adopt(lockFile), launch.Options{Now: t.Env.Now, Version: cli.VersionString(), Smol: sm})
	}
	if err != nil {
		launch.WriteGuardianLog(dir, time.Now(), err)
		return exitcode.Silent{Code: exitcode.Failure}
	}
	return nil
}

// resumeSpec makes the spec of a resumed bottle: bottle.json's, or
// --spec's when given; the agent is always the bottle's. bottle.json keeps
// env names only: their values come again from the environment, and a name
// the environment does not set (or sets empty) refuses the resume — the
// agent never starts with the placeholder.
func resumeSpec(env cli.Env, o options, saved *launch.Saved) (launch.Spec, bool, error) {
	m := saved.Meta
	o.Agent = m.Agent
	var spec launch.Spec
	fromStdin := false
	var err error
	if o.Spec != "" {
		if spec, fromStdin, err = readSpec(env, o); err != nil {
			return spec, false, err
		}
	} else {
		spec = saved.Spec
		var missing []string
		if len(spec.Env) > 0 {
			vals := make(map[string]string, len(spec.Env))
			for k := range spec.Env {
				if vals[k] = env.Getenv(k); vals[k] == "" {
					missing = append(missing, k)
				}
			}
			spec.Env = vals
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			return spec, false, exitcode.Usagef("--resume %s: bottle.json keeps env names, not their values: set %s in the environment (or pass --spec FILE with the values)", m.Slug, strings.Join(missing, ", "))
		}
		// bottle.json's paths are absolute already.
		if err := applyFlags(&spec, env, o, saved.Dir); err != nil {
			return spec, false, err
		}
	}
	for k, v := range spec.Env {
		if v == launch.RedactedValue {
			return spec, false, exitcode.Usagef("--resume %s: env %s is %s, the placeholder bottle.json keeps instead of a value: give its real value", m.Slug, k, launch.RedactedValue)
		}
	}
	return spec, fromStdin, nil
}

// checkGone refuses to resume a bottle that still exists on any backend
// (or that the backends could not tell about), or whose bottle.json names
// another engine while it has not ended there.
func checkGone(ctx context.Context, t *cli.Tool, saved *launch.Saved) error {
	m := saved.Meta
	set, err := t.Env.OpenBackends(m.Prefix)
	if err != nil {
		return err
	}
	defer set.Close()
	if why := statedir.OtherEngine(statedir.Meta{Engine: m.Engine, EngineID: m.EngineID}, set.Engines(ctx)); why != "" && m.Ended == nil {
		return exitcode.Usagef("--resume %s: %s; pass --context with that engine's docker context (or set DOCKER_HOST to it) to resume it there", m.Slug, why)
	}
	s := backend.Ask(ctx, set.Backends)
	if !s.Complete() {
		return fmt.Errorf("--resume %s: cannot tell whether its bottle still exists: %w", m.Slug, s.Err())
	}
	for name, inv := range s.ByBackend {
		live := slices.Contains(inv.Claimed, m.Slug) || slices.ContainsFunc(inv.Bottles, func(b bottle.Bottle) bool { return b.Slug == m.Slug })
		if live {
			return exitcode.Usagef("--resume %s: a bottle of this slug still exists on the %s backend: end it first with bottle-cleanup --name %s, which saves its conversation and keeps its state dir (touch %s to keep the dir whatever it holds)",
				m.Slug, name, m.Slug, filepath.Join(saved.Dir, bottle.PreserveFile))
		}
	}
	return nil
}

// prefixOf is the prefix the bottle's names take: a resumed bottle's own.
func prefixOf(o options, saved *launch.Saved) string {
	if saved != nil {
		return saved.Meta.Prefix
	}
	return o.Prefix
}

// remoteEngine refuses, before anything is made, what cannot work on an
// engine reached over ssh, which runs on another host: a workspace (the
// engine bind-mounts the path on its own host, not this directory) and the
// smolmachines backend (its machine runs here and reaches its sidecars
// published on this host's 127.0.0.1). Everything else bottle-launch does
// goes through the Engine API (copies, attach, wait), which ssh carries.
func remoteEngine(spec launch.Spec, ep engine.Endpoint) error {
	if !ep.IsSSH() {
		return nil
	}
	if spec.Backend == bottle.Smolmachines {
		return exitcode.BadInputf("backend smolmachines: the engine %s is reached over ssh, on another host, and a smolmachines bottle needs its sidecars on this one; use the docker backend there, or a local engine", ep)
	}
	if spec.Workspace != "" {
		return exitcode.BadInputf("workspace %s: the engine %s is reached over ssh, on another host, which would mount its own %s, not this directory; launch without a workspace there, or on a local engine", spec.Workspace, ep, spec.Workspace)
	}
	return nil
}
