package launch

// The smolmachines backend of a launch: the agent in a smolvm microVM
// "<prefix><slug>", its egress proxy in a bundle in Docker (container
// "<prefix>sidecars-<slug>" on network "<prefix>bundle-<slug>", published
// on the host's 127.0.0.1 only). The machine reaches nothing but smolvm's
// gateway (--allow-host 100.96.0.1), which relays host.smolvm.internal:P
// to the host's 127.0.0.1:P: the proxy. smolvm itself is driven through
// its CLI only; every rule used was read from smol-machines/smolvm v1.9.3
// (src/cli/machine.rs, src/cli/vm_common.rs, crates/smolvm-network,
// crates/smolvm-agent/src/nsfile.rs and storage.rs).
//
// Where the docker and smolmachines launches differ, the docker methods
// (create, Run, snapshot, removeAll, Info, endOrphan) hand over to the
// smol* ones when b.smol is set; everything else (the spec, the state dir,
// the lock, bottle.json, the CA and the sidecar's config, the guardian, the
// ending's order) is the same code.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/imagetar"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
)

// The machine's network: smolvm's virtio-net gateway (guest 100.96.0.2/30,
// gateway and DNS 100.96.0.1; crates/smolvm-network/src/lib.rs), whose
// name host.smolvm.internal it answers itself even under an allow-host
// filter (stack.rs classify_dns_query), and whose TCP relay dials the
// host's 127.0.0.1:P for a connection to the gateway's port P
// (tcp_relay.rs).
const (
	SmolGateway     = "100.96.0.1"
	SmolGatewayName = "host.smolvm.internal"
)

// SmolIdle is the machine's workload: smolvm runs the image's ENTRYPOINT
// and CMD at start unless told otherwise (vm_common.rs
// default_workload_to_image), which would start the agent headless; the
// agent runs through `machine exec` instead. It is smolvm's own idle
// command (lib.rs DEFAULT_IDLE_CMD).
var SmolIdle = []string{"sleep", "infinity"}

// Tools an agent image needs on its PATH on smolmachines: sleep for the
// idle workload, tar for the trees (skills in, a resumed transcript in,
// the transcript out). kill (or sh's kill) lets a stop be graceful; without
// both the machine is stopped at once.
var (
	smolNeeds    = []string{"sleep", "tar"}
	smolOptional = []string{"kill", "sh"}
)

// Timeouts of the smolvm calls of a launch. A first start flattens the image
// in the guest; a create reads the whole image.
var (
	smolCreateTimeout = 20 * time.Minute
	smolStartTimeout  = 20 * time.Minute
	smolCallTimeout   = 2 * time.Minute
	smolStopTimeout   = time.Minute
)

// Smol is what a smolmachines launch needs, prepared (PrepareSmol) before
// anything is made. A guardian gets one with CLI and Environ only.
type Smol struct {
	CLI     *smolvmcli.CLI
	Version smolvmcli.Version
	// Environ is the launcher's environment: smolvm runs with it, without
	// the proxy variables (smolvmcli.LaunchEnv).
	Environ []string
	Image   imagetar.Facts
	User    User
	// RunAs is the USER the machine's image gets ("" keeps the image's).
	RunAs string
	// Entrypoint and Cmd are the image's: a machine exec runs the
	// ENTRYPOINT with the spec's command, or the image's CMD when the spec
	// has none, as a container would.
	Entrypoint, Cmd []string
	// Kill is how the agent is asked to stop inside the machine ("" when
	// the image has no kill and no sh: the machine is then stopped).
	Kill string
}

// smolBottle is a smolmachines bottle's own part of a Launched.
type smolBottle struct {
	*Smol
	machine string // the machine's name: the project's name
	made    bool   // a machine create may have made it
	port    int    // the proxy's port on the host's 127.0.0.1
	ca      []byte // the bottle's CA certificate, for the machine's trust
}

// SmolmachinesRefusal is a spec or an image a smolmachines launch refuses
// before anything is made.
func smolRefuse(format string, args ...any) error {
	return exitcode.BadInputf(format, args...)
}

// PrepareSmol checks, before anything is made, that a smolmachines bottle
// can be made of spec with this smolvm and engine, and reads what the
// launch needs: smolvm's version (asked once; older than
// smolvmcli.MinLaunchVersion is refused), the machine name smolvm would take,
// the agent's image on the engine (read once through `docker save`: its
// config, its user as its own /etc/passwd says, the commands on its PATH).
func PrepareSmol(ctx context.Context, eng engine.Launcher, cli *smolvmcli.CLI, cliErr error, spec Spec, prefix string, environ []string) (*Smol, error) {
	switch {
	case cliErr != nil:
		return nil, cliErr
	case !cli.Present():
		return nil, fmt.Errorf("the smolmachines backend needs smolvm %s or later: put smolvm on PATH or name it in %s", smolvmcli.MinLaunchVersion, smolvmcli.EnvBinary)
	}
	v, err := cli.Version(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking smolvm its version: %w", err)
	}
	if v.Less(smolvmcli.MinLaunchVersion) {
		return nil, fmt.Errorf("smolvm %s (%s) is too old: the smolmachines backend needs smolvm %s or later (machine cp --mode/--uid/--gid)", v, cli.Path, smolvmcli.MinLaunchVersion)
	}
	if strings.Contains(spec.Workspace, ":") {
		// smolvm reads -v HOST:GUEST[:ro] from the right (storage.rs)
		return nil, smolRefuse("workspace %s holds ':', which smolvm's -v HOST:GUEST cannot carry; use a path without one", spec.Workspace)
	}
	// The slug's suffix is five letters or digits: any stands for all.
	if why := smolvmcli.CheckName(bottle.ProjectName(prefix, spec.Agent+"-a0000")); why != "" {
		return nil, smolRefuse("smolvm cannot name a machine %s<agent>-<slug>: %s; choose another prefix or agent name", prefix, why)
	}
	// Both images, as any launch checks them (every missing one named).
	if err := (&Launched{eng: eng, spec: spec}).checkImages(ctx); err != nil {
		return nil, err
	}
	images, ok := eng.(engine.Images)
	if !ok {
		return nil, errors.New("this engine cannot save images (docker save), which a smolmachines launch needs")
	}
	rc, err := images.SaveImage(ctx, spec.Image)
	if err != nil {
		return nil, fmt.Errorf("reading image %s (docker save): %w", spec.Image, err)
	}
	facts, err := imagetar.Inspect(rc, append(slices.Clone(smolNeeds), smolOptional...))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading image %s (docker save): %w", spec.Image, err)
	}
	sm := &Smol{CLI: cli, Version: v, Environ: environ, Image: facts}
	var missing []string
	for _, t := range smolNeeds {
		if !facts.Tools[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return nil, smolRefuse("image %s has no %s on its PATH (%s): on smolmachines the machine idles with `sleep infinity` and trees go in and out with tar; use an image that has them (busybox or coreutils)",
			spec.Image, strings.Join(missing, " or "), facts.Config.Path())
	}
	switch {
	case facts.Tools["kill"]:
		sm.Kill = "kill"
	case facts.Tools["sh"]:
		sm.Kill = "sh"
	}
	// Never root unless the spec says so, as on docker: the machine's
	// image then gets the user as its USER (smolvm runs every command as
	// the image's USER).
	user := facts.Config.User
	switch {
	case spec.ExplicitRoot():
		user, sm.RunAs = "0:0", "0:0"
	case spec.User != "":
		user, sm.RunAs = spec.User, spec.User
	case IsRootUser(user):
		user = defaultUser(spec.Workspace).String()
		sm.RunAs = user
	}
	if sm.User, err = ResolveUser(user, facts.Passwd, facts.Group); err != nil {
		return nil, smolRefuse("image %s: %v", spec.Image, err)
	}
	if sm.User.UID == 0 && !spec.ExplicitRoot() {
		return nil, smolRefuse("image %s: the agent would run as root (its user is uid 0 in the image's /etc/passwd): set \"user\" in the spec to a non-root uid such as %s, or to root to allow it", spec.Image, DefaultUser)
	}
	// As the container runtime does: the image's ENTRYPOINT, then the
	// spec's command in place of its CMD.
	sm.Entrypoint, sm.Cmd = facts.Config.Entrypoint, facts.Config.Cmd
	if len(spec.Command) > 0 {
		sm.Cmd = nil
	}
	if len(sm.Entrypoint)+len(sm.Cmd)+len(spec.Command) == 0 {
		return nil, smolRefuse("image %s has neither ENTRYPOINT nor CMD and the spec no command: give \"command\"", spec.Image)
	}
	return sm, nil
}

// setBackend gives the bottle its backend's part: a smolmachines spec
// needs the prepared Smol in the options.
func (b *Launched) setBackend() error {
	if b.spec.Backend != bottle.Smolmachines {
		return nil
	}
	if b.opt.Smol == nil || b.opt.Smol.CLI == nil {
		return errors.New("a smolmachines launch needs its smolvm prepared (PrepareSmol)")
	}
	b.smol = &smolBottle{Smol: b.opt.Smol}
	return nil
}

// backend is the bottle's backend, as bottle.json says it.
func (b *Launched) backend() string {
	if b.smol != nil {
		return bottle.Smolmachines
	}
	return bottle.Docker
}

// smolEnv is smolvm's environment for a call, with extra variables.
func (s *smolBottle) env(extra ...string) []string {
	return smolvmcli.LaunchEnv(s.Environ, extra...)
}

// smolInfo is the bottle as bottle-ls shows a smolmachines bottle.
func (b *Launched) smolInfo() bottle.Bottle {
	b.mu.Lock()
	defer b.mu.Unlock()
	cs := make([]bottle.Container, 0, len(b.containers))
	status := bottle.StatusRunning
	for _, c := range b.containers {
		cs = append(cs, bottle.Container{Name: c.Name, ID: c.ID, State: c.State})
		if !bottle.Active(c.State) {
			status = bottle.StatusPartial
		}
	}
	created := b.Created.Truncate(time.Second)
	dir := b.Project.StateDir
	return bottle.Bottle{
		Backend: bottle.Smolmachines, Name: b.Project.Name, Slug: b.Project.Slug, Status: status, Created: &created,
		Containers: cs, Networks: nonNil(slices.Clone(b.networks)), Volumes: []bottle.Volume{},
		Machine: &bottle.Machine{Name: b.smol.machine, State: "running"}, StateDir: &dir,
	}
}

// smolSweep adds the bundle parts the engine holds under this bottle's
// names that the launch did not record (a create whose answer never came).
func (b *Launched) smolSweep(ctx context.Context) error {
	cname := bottle.BundleContainerName(b.opt.Prefix, b.Project.Slug)
	nname := bottle.BundleNetworkName(b.opt.Prefix, b.Project.Slug)
	w, err := engine.ListAll(ctx, b.eng)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	known := b.recorded()
	for _, c := range w.Containers {
		if c.Name == cname && !known[c.ID] {
			b.containers = append(b.containers, bottle.Container{Name: c.Name, ID: c.ID, Service: bottle.ServiceSidecar, State: c.State})
		}
	}
	for _, n := range w.Networks {
		if n.Name == nname && !known[n.ID] {
			b.networks = append(b.networks, bottle.Network{Name: n.Name, ID: n.ID})
		}
	}
	return nil
}

// smolRemains lists what is left of the bottle: its machine, its bundle
// container and network.
func (b *Launched) smolRemains(ctx context.Context) ([]string, error) {
	var left []string
	var errs []error
	cname := bottle.BundleContainerName(b.opt.Prefix, b.Project.Slug)
	nname := bottle.BundleNetworkName(b.opt.Prefix, b.Project.Slug)
	w, err := engine.ListAll(ctx, b.eng)
	if err != nil {
		errs = append(errs, err)
	}
	for _, c := range w.Containers {
		if c.Name == cname {
			left = append(left, "container "+c.Name)
		}
	}
	for _, n := range w.Networks {
		if n.Name == nname {
			left = append(left, "network "+n.Name)
		}
	}
	if m, err := b.smol.CLI.Machine(ctx, b.smol.machine); err != nil {
		errs = append(errs, err)
	} else if m != nil {
		left = append(left, "machine "+m.Name)
	}
	sort.Strings(left)
	return left, errors.Join(errs...)
}

// smolRemoveAll removes the machine (smolvm stops it first) and the bundle,
// again until a look at smolvm and the engine shows nothing of the bottle.
// keepMachine keeps the machine (it holds the only copy of the transcript:
// the ending could not save it); the bundle goes all the same.
func (b *Launched) smolRemoveAll(ctx context.Context, keepMachine bool) error {
	sm := b.smol
	if sm.machine == "" {
		sm.machine = b.Project.Name
	}
	return untilGone(ctx, func() []error {
		var errs []error
		var mu sync.Mutex
		var wg sync.WaitGroup
		wg.Go(func() {
			if !sm.made || keepMachine {
				return
			}
			if err := sm.CLI.DeleteWithin(ctx, sm.machine, smolStopTimeout); err != nil && !smolvmcli.IsNotFound(err) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("deleting machine %s: %w", sm.machine, err))
				mu.Unlock()
			}
		})
		wg.Go(func() {
			err := b.smolSweep(ctx)
			if err != nil {
				err = fmt.Errorf("listing the bottle's resources: %w", err)
			} else {
				err = b.teardown(ctx, nil)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
		wg.Wait()
		left, lerr := b.smolRemains(ctx)
		if keepMachine {
			left = slices.DeleteFunc(left, func(l string) bool { return l == "machine "+sm.machine })
		}
		switch {
		case lerr != nil:
			errs = append(errs, fmt.Errorf("checking that nothing is left: %w", lerr))
		case len(left) > 0:
			errs = append(errs, fmt.Errorf("still there: %s", strings.Join(left, ", ")))
			// a machine made although its create failed: delete it too
			sm.made = sm.made || slices.ContainsFunc(left, func(l string) bool { return strings.HasPrefix(l, "machine ") })
		}
		return errs
	})
}

// TranscriptTree writes a tar of the host tree dir with entries relative to
// it (directories and regular files only, never through a symlink), for
// extraction in the agent's transcript directory by the agent's user.
func TranscriptTree(w io.Writer, dir string, now time.Time) error {
	return writeTranscriptTar(w, dir, "", User{}, now)
}
