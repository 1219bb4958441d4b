package launch

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Options are how a launch runs.
type Options struct {
	Prefix    string
	StateRoot string
	Version   string // the toolkit's, for labels
	// Attach attaches the agent's stdio before it starts (the foreground);
	// Stdin also attaches its stdin, TTY gives it a terminal.
	Attach, Stdin, TTY bool
	Now                func() time.Time
	// StopGrace is how long a stopped agent gets between SIGTERM and SIGKILL.
	StopGrace time.Duration
}

// Bottle is a launched bottle: what was made, and the state dir's lock.
type Bottle struct {
	eng     engine.Launcher
	opt     Options
	spec    Spec
	Project Project
	Created time.Time

	mu         sync.Mutex
	networks   []bottle.Network // in creation order
	volumes    []bottle.Volume
	containers []bottle.Container
	ids        map[string]string // service -> container ID

	lock   *statedir.Lock
	attach *engine.Attachment
}

// Meta is bottle.json in the state dir.
type Meta struct {
	Backend    string             `json:"backend"`
	Name       string             `json:"name"`
	Slug       string             `json:"slug"`
	Agent      string             `json:"agent"`
	Prefix     string             `json:"prefix"`
	Created    time.Time          `json:"created"`
	Spec       Spec               `json:"spec"`
	Containers []bottle.Container `json:"containers"`
	Networks   []bottle.Network   `json:"networks"`
	Volumes    []bottle.Volume    `json:"volumes"`
	Detached   bool               `json:"detached,omitempty"`
	Ended      *time.Time         `json:"ended,omitempty"`
	ExitCode   *int               `json:"exit_code,omitempty"`
}

// StepError says which step of a launch failed.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Start makes the bottle: state dir (locked), networks, volume, sidecar and
// agent, provisioned, sidecar started, agent started. Any failure removes
// everything it made, the state dir too, and says which step failed.
func Start(ctx context.Context, eng engine.Launcher, spec Spec, opt Options) (*Bottle, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	b := &Bottle{eng: eng, opt: opt, spec: spec, ids: map[string]string{}, Created: opt.Now().UTC()}
	if err := b.makeStateDir(); err != nil {
		return nil, err
	}
	if err := b.create(ctx); err != nil {
		// Never let the interrupt that may have caused this stop the cleanup.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if b.attach != nil {
			b.attach.Close()
		}
		b.sweep(cctx)
		terr := b.teardown(cctx)
		b.lock.Release()
		if terr != nil {
			// What is left is labelled; the state dir stays so the plan
			// ties it to its bottle.
			return nil, fmt.Errorf("%w; cleaning up also failed: %v (run bottle-cleanup)", err, terr)
		}
		if rerr := os.RemoveAll(b.Project.StateDir); rerr != nil {
			return nil, fmt.Errorf("%w; removing the state dir: %v", err, rerr)
		}
		return nil, err
	}
	return b, nil
}

// makeStateDir creates <root>/<slug>/ (a new one: the slug is fresh), takes
// its lock and writes bottle.json.
func (b *Bottle) makeStateDir() error {
	if err := os.MkdirAll(b.opt.StateRoot, 0o700); err != nil {
		return &StepError{"creating the state root", err}
	}
	for try := 0; ; try++ {
		slug := NewSlug(b.spec.Agent)
		dir := filepath.Join(b.opt.StateRoot, slug)
		err := os.Mkdir(dir, 0o700)
		if errors.Is(err, os.ErrExist) && try < 5 {
			continue
		}
		if err != nil {
			return &StepError{"creating the state dir", err}
		}
		b.Project = Project{Name: bottle.ProjectName(b.opt.Prefix, slug), Slug: slug, Agent: b.spec.Agent, StateDir: dir, Version: b.opt.Version}
		break
	}
	lock, err := statedir.Acquire(b.Project.StateDir)
	if err != nil {
		os.RemoveAll(b.Project.StateDir)
		return &StepError{"locking the state dir", err}
	}
	b.lock = lock
	if err := b.writeMeta(nil); err != nil {
		lock.Release()
		os.RemoveAll(b.Project.StateDir)
		return &StepError{"writing bottle.json", err}
	}
	return nil
}

func (b *Bottle) writeMeta(update func(*Meta)) error {
	b.mu.Lock()
	m := Meta{
		Backend: bottle.Docker, Name: b.Project.Name, Slug: b.Project.Slug, Agent: b.spec.Agent, Prefix: b.opt.Prefix,
		Created: b.Created.Truncate(time.Second), Spec: b.spec.Redacted(),
		Containers: nonNil(b.containers), Networks: nonNil(b.networks), Volumes: nonNil(b.volumes),
	}
	b.mu.Unlock()
	if update != nil {
		update(&m)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(b.Project.StateDir, statedir.MetaFile), append(data, '\n'), 0o600)
}

func writeFileAtomic(p string, data []byte, mode os.FileMode) error {
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// services returns the agent's and the sidecar's definitions.
func (b *Bottle) services() (agent, sidecar Service, agentEnv map[string]string) {
	p, s := b.Project, b.spec
	agentEnv = AgentEnv(s)
	redacted := map[string]string{}
	for k, v := range agentEnv {
		if _, secret := s.Env[k]; secret {
			v = "(from the spec)"
		}
		redacted[k] = v
	}
	agent = Service{
		Image: s.Image, ContainerName: p.ContainerName(ServiceAgent), Command: s.Command, Environment: redacted,
		Networks: map[string]*Aliases{NetInternal: {}}, Volumes: []string{VolHome + ":" + AgentHome},
		DependsOn: []string{ServiceSidecar}, StdinOpen: b.opt.Stdin, Tty: b.opt.TTY,
	}
	if s.Workspace != "" {
		agent.Volumes = append(agent.Volumes, s.Workspace+":"+AgentWorkspace)
		agent.WorkingDir = AgentWorkspace
	}
	cmd := s.Sidecar.Command
	if cmd == nil {
		cmd = []string{"run", "--config", SidecarConfig}
	}
	sidecar = Service{
		Image: s.Sidecar.Image, ContainerName: p.ContainerName(ServiceSidecar), Command: cmd,
		Networks: map[string]*Aliases{NetInternal: {Aliases: []string{ServiceSidecar}}, NetEgress: {}},
	}
	for _, n := range s.Sidecar.Networks {
		sidecar.Networks[n] = &Aliases{}
	}
	return agent, sidecar, agentEnv
}

func (b *Bottle) create(ctx context.Context) error {
	p, s := b.Project, b.spec
	agentSvc, sidecarSvc, agentEnv := b.services()
	doc := p.Compose(agentSvc, sidecarSvc, s.Sidecar.Networks)
	if data, err := json.MarshalIndent(doc, "", "  "); err != nil {
		return &StepError{"writing the compose file", err}
	} else if err := os.WriteFile(p.ComposeFile(), append(data, '\n'), 0o600); err != nil {
		return &StepError{"writing the compose file", err}
	}

	// A failure stops the other steps between engine calls, never during
	// one: a create whose request is abandoned may still be done by the
	// engine, and then nobody would know its ID.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return first != nil || ctx.Err() != nil
	}
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if failed() {
				return
			}
			if err := f(); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}

	// Step 1: networks and the volume, and (meanwhile) the CA and archives.
	var ca CA
	var agentTar, sidecarTar []byte
	for _, key := range []string{NetInternal, NetEgress} {
		run(func() error { return b.createNetwork(ctx, key) })
	}
	run(func() error {
		name := p.VolumeName(VolHome)
		if err := b.eng.CreateVolume(ctx, name, p.VolumeLabels(VolHome)); err != nil {
			return &StepError{"creating volume " + name, err}
		}
		b.mu.Lock()
		b.volumes = append(b.volumes, bottle.Volume{Name: name, ID: name})
		b.mu.Unlock()
		return nil
	})
	run(func() (err error) {
		if ca, err = NewCA(p.Name, b.Created); err != nil {
			return &StepError{"making the CA", err}
		}
		if agentTar, err = AgentFiles(s, ca, b.Created); err != nil {
			return &StepError{"reading what the agent gets", err}
		}
		if sidecarTar, err = SidecarFiles(s, ca, b.Created); err != nil {
			return &StepError{"writing the sidecar's config", err}
		}
		return nil
	})
	wg.Wait()
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// Step 2: both containers, each created, connected and provisioned.
	run(func() error {
		id, err := b.createContainer(ctx, ServiceSidecar, engine.ContainerSpec{
			Image: s.Sidecar.Image, Cmd: sidecarSvc.Command, Network: p.NetworkName(NetInternal), Aliases: []string{ServiceSidecar},
			Labels: p.ContainerLabels(ServiceSidecar, ConfigHash(sidecarSvc)),
		})
		if err != nil {
			return err
		}
		nets := append([]string{p.NetworkName(NetEgress)}, s.Sidecar.Networks...)
		for _, n := range nets {
			if failed() {
				return nil
			}
			if err := b.eng.Connect(ctx, n, id, nil); err != nil {
				if cerrdefs.IsNotFound(err) {
					err = fmt.Errorf("network %q does not exist", n)
				}
				return &StepError{"connecting the sidecar to network " + n, err}
			}
		}
		if failed() {
			return nil
		}
		if err := b.eng.CopyTo(ctx, id, "/", bytes.NewReader(sidecarTar)); err != nil {
			return &StepError{"copying the config and CA into the sidecar", err}
		}
		return nil
	})
	run(func() error {
		spec := engine.ContainerSpec{
			Image: s.Image, Cmd: s.Command, Env: Env(agentEnv), Network: p.NetworkName(NetInternal),
			Labels: p.ContainerLabels(ServiceAgent, ConfigHash(agentSvc)), Volumes: map[string]string{p.VolumeName(VolHome): AgentHome},
			Tty: b.opt.TTY, OpenStdin: b.opt.Stdin,
		}
		if s.Workspace != "" {
			spec.Binds = map[string]string{s.Workspace: AgentWorkspace}
			spec.WorkingDir = AgentWorkspace
		}
		id, err := b.createContainer(ctx, ServiceAgent, spec)
		if err != nil {
			return err
		}
		if failed() {
			return nil
		}
		if err := b.eng.CopyTo(ctx, id, "/", bytes.NewReader(agentTar)); err != nil {
			return &StepError{"copying the prompt, skills, git config and CA into the agent", err}
		}
		if b.opt.Attach {
			att, err := b.eng.Attach(ctx, id, b.opt.Stdin, b.opt.TTY)
			if err != nil {
				return &StepError{"attaching to the agent", err}
			}
			b.attach = att
		}
		return nil
	})
	wg.Wait()
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// Step 3: start both at once. Starting the sidecar first would not
	// make its proxy listen any sooner than the agent's first request
	// (a start returns when the process runs), and each start costs the
	// engine most of a second.
	for _, svc := range []string{ServiceSidecar, ServiceAgent} {
		run(func() error {
			if err := b.eng.StartContainer(ctx, b.ids[svc]); err != nil {
				return &StepError{"starting the " + svc, err}
			}
			b.setState(svc, "running")
			return nil
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.writeMeta(nil)
}

func (b *Bottle) createNetwork(ctx context.Context, key string) error {
	p := b.Project
	name := p.NetworkName(key)
	id, err := b.eng.CreateNetwork(ctx, engine.NetworkSpec{Name: name, Internal: key == NetInternal, Labels: p.NetworkLabels(key)})
	if err != nil {
		if engine.IsAddressPoolExhausted(err) {
			err = fmt.Errorf("%w; the engine has no address pool left for another network: leaked networks of killed bottles are the usual cause — see them with bottle-plan-cleanup --kind network and remove them with bottle-cleanup", err)
		}
		return &StepError{"creating network " + name, err}
	}
	b.mu.Lock()
	b.networks = append(b.networks, bottle.Network{Name: name, ID: id})
	b.mu.Unlock()
	return nil
}

func (b *Bottle) createContainer(ctx context.Context, service string, spec engine.ContainerSpec) (string, error) {
	spec.Name = b.Project.ContainerName(service)
	id, err := b.eng.CreateContainer(ctx, spec)
	if err != nil {
		switch {
		case cerrdefs.IsNotFound(err) && strings.Contains(strings.ToLower(err.Error()), "image"):
			err = fmt.Errorf("image %q is not on this engine (bottle-launch does not pull: run docker pull %s)", spec.Image, spec.Image)
		case cerrdefs.IsConflict(err):
			err = fmt.Errorf("the name %s is already taken: %w", spec.Name, err)
		}
		return "", &StepError{"creating the " + service + " container", err}
	}
	b.mu.Lock()
	b.ids[service] = id
	b.containers = append(b.containers, bottle.Container{Name: spec.Name, ID: id, Service: service, State: "created"})
	b.mu.Unlock()
	return id, nil
}

func (b *Bottle) setState(service, state string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.containers {
		if b.containers[i].Service == service {
			b.containers[i].State = state
		}
	}
}

// sweep adds to what teardown removes whatever the engine holds with this
// bottle's project label that the launch did not record (a create cut off
// by an interrupt may still have been done). A listing error leaves the
// record as it is.
func (b *Bottle) sweep(ctx context.Context) {
	w, err := docker.List(ctx, b.eng)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	known := map[string]bool{}
	for _, c := range b.containers {
		known[c.ID] = true
	}
	for _, n := range b.networks {
		known[n.ID] = true
	}
	for _, v := range b.volumes {
		known[v.Name] = true
	}
	ours := func(labels map[string]string) bool { return labels[docker.LabelProject] == b.Project.Name }
	for _, c := range w.Containers {
		if ours(c.Labels) && !known[c.ID] {
			b.containers = append(b.containers, bottle.Container{Name: c.Name, ID: c.ID, Service: c.Labels[docker.LabelService], State: c.State})
		}
	}
	for _, n := range w.Networks {
		if ours(n.Labels) && !known[n.ID] {
			b.networks = append(b.networks, bottle.Network{Name: n.Name, ID: n.ID})
		}
	}
	for _, v := range w.Volumes {
		if ours(v.Labels) && !known[v.Name] {
			b.volumes = append(b.volumes, bottle.Volume{Name: v.Name, ID: v.Name})
		}
	}
}

// teardown removes every container this launch made, and each network and
// volume as soon as the containers that use it are gone (the volume waits
// for the agent, the egress network for the sidecar, the internal network
// for both; anything else for every container). 404 counts as done.
func (b *Bottle) teardown(ctx context.Context) error {
	b.mu.Lock()
	containers, networks, volumes := slicesClone(b.containers), slicesClone(b.networks), slicesClone(b.volumes)
	b.mu.Unlock()
	var mu sync.Mutex
	var errs []error
	report := func(err error) {
		if err != nil && !engine.IsNotFound(err) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	// Each container is killed first: a network lets go of a stopped
	// container at once, so the networks are removed while the engine is
	// still deleting the containers' file systems. A volume stays in use
	// until its container is gone.
	index := map[string]int{} // service (or ID) -> container index
	stopped := make([]chan struct{}, len(containers))
	gone := make([]chan struct{}, len(containers))
	for i, c := range containers {
		stopped[i], gone[i] = make(chan struct{}), make(chan struct{})
		key := c.Service
		if _, dup := index[key]; dup || key == "" {
			key = c.ID
		}
		index[key] = i
	}
	after := func(chs []chan struct{}, services ...string) []chan struct{} {
		var out []chan struct{}
		for _, s := range services {
			if i, ok := index[s]; ok {
				out = append(out, chs[i])
			}
		}
		if len(index) > 2 || len(out) == 0 && len(services) > 0 {
			return chs // containers this launch did not make itself: wait for all
		}
		return out
	}
	var wg sync.WaitGroup
	for i, c := range containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(gone[i])
			stop := sync.OnceFunc(func() { close(stopped[i]) })
			defer stop()
			// Best effort: a container that is not running (or not there)
			// needs no kill; removal below reports what matters.
			if err := b.eng.Kill(ctx, c.ID, "KILL"); err == nil {
				_, _ = b.eng.Wait(ctx, c.ID)
			}
			stop()
			report(retry(ctx, engine.IsTransient, func() error {
				if err := b.eng.RemoveContainer(ctx, c.ID); err != nil {
					return fmt.Errorf("removing container %s: %w", c.Name, err)
				}
				return nil
			}))
		}()
	}
	wait := func(chs []chan struct{}) {
		for _, ch := range chs {
			<-ch
		}
	}
	for _, n := range networks {
		deps := gone
		switch n.Name {
		case b.Project.NetworkName(NetEgress):
			deps = after(stopped, ServiceSidecar)
		case b.Project.NetworkName(NetInternal):
			deps = after(stopped, ServiceSidecar, ServiceAgent)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait(deps)
			report(retry(ctx, func(err error) bool { return engine.IsActiveEndpoints(err) || engine.IsTransient(err) }, func() error {
				if err := b.eng.RemoveNetwork(ctx, n.ID); err != nil {
					return fmt.Errorf("removing network %s: %w", n.Name, err)
				}
				return nil
			}))
		}()
	}
	for _, v := range volumes {
		deps := gone
		if v.Name == b.Project.VolumeName(VolHome) {
			deps = after(gone, ServiceAgent)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait(deps)
			report(retry(ctx, func(err error) bool { return engine.IsInUse(err) || engine.IsTransient(err) }, func() error {
				if err := b.eng.RemoveVolume(ctx, v.Name); err != nil {
					return fmt.Errorf("removing volume %s: %w", v.Name, err)
				}
				return nil
			}))
		}()
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

// retry runs f again, briefly, while its error is one that passes.
func retry(ctx context.Context, again func(error) bool, f func() error) error {
	delay := 50 * time.Millisecond
	for i := 0; ; i++ {
		err := f()
		if err == nil || !again(err) || i >= 8 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// Info is the bottle as bottle-ls shows it.
func (b *Bottle) Info() bottle.Bottle {
	b.mu.Lock()
	defer b.mu.Unlock()
	cs, ns, vs := slicesClone(b.containers), slicesClone(b.networks), slicesClone(b.volumes)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	sort.Slice(ns, func(i, j int) bool { return ns[i].Name < ns[j].Name })
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	created := b.Created.Truncate(time.Second)
	dir := b.Project.StateDir
	status := bottle.StatusRunning
	for _, c := range cs {
		if !bottle.Active(c.State) {
			status = bottle.StatusPartial
		}
	}
	return bottle.Bottle{
		Backend: bottle.Docker, Name: b.Project.Name, Slug: b.Project.Slug, Status: status, Created: &created,
		Containers: nonNil(cs), Networks: nonNil(ns), Volumes: nonNil(vs), StateDir: &dir,
	}
}

// Detach leaves the bottle running: bottle.json says so and the lock goes.
func (b *Bottle) Detach() error {
	err := b.writeMeta(func(m *Meta) { m.Detached = true })
	b.lock.Release()
	return err
}

// Stdio is the launcher's side of a foreground agent.
type Stdio struct {
	Stdin          io.Reader // nil: stdin not attached
	Stdout, Stderr io.Writer
}

// Outcome is how a foreground run ended.
type Outcome struct {
	ExitCode    int
	Interrupted bool // the launcher was told to stop and stopped the agent
	Crashed     bool // the agent ended badly on its own: .preserve was written
	Transcript  bool // a transcript was snapshotted into the state dir
}

// Run relays the agent's stdio until it exits or ctx is done (then the
// agent is stopped: SIGTERM, SIGKILL after StopGrace), and ends the bottle:
// transcript snapshot, everything removed, state dir kept, .preserve when
// the agent crashed.
func (b *Bottle) Run(ctx context.Context, st Stdio) (Outcome, error) {
	agent := b.ids[ServiceAgent]
	bg := context.WithoutCancel(ctx)
	outDone := make(chan error, 1)
	go func() {
		if b.attach == nil {
			outDone <- nil
			return
		}
		outDone <- b.attach.Copy(st.Stdout, st.Stderr)
	}()
	if b.attach != nil && st.Stdin != nil {
		go func() {
			_, _ = io.Copy(b.attach, st.Stdin)
			_ = b.attach.CloseWrite()
		}()
	}
	exited := make(chan exitResult, 1)
	go func() {
		code, err := b.eng.Wait(bg, agent)
		exited <- exitResult{code, err}
	}()

	var out Outcome
	var res exitResult
	select {
	case res = <-exited:
	case <-ctx.Done():
		out.Interrupted = true
		res = b.stop(bg, agent, exited)
	}
	// The output stream ends when the agent does; do not hang on it.
	select {
	case <-outDone:
	case <-time.After(2 * time.Second):
	}
	if b.attach != nil {
		b.attach.Close()
	}
	out.ExitCode = res.code
	var errs []error
	if res.err != nil {
		errs = append(errs, fmt.Errorf("waiting for the agent: %w", res.err))
		out.ExitCode = -1
	}
	out.Crashed = !out.Interrupted && out.ExitCode != 0
	end, err := b.End(bg, out.ExitCode, out.Crashed)
	out.Transcript = end
	if err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

type exitResult struct {
	code int
	err  error
}

// stop asks the agent to stop, then kills it.
func (b *Bottle) stop(ctx context.Context, id string, exited chan exitResult) exitResult {
	grace := b.opt.StopGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	if err := b.eng.Kill(ctx, id, "SIGTERM"); err != nil && !engine.IsNotRunning(err) && !engine.IsNotFound(err) {
		_ = b.eng.Kill(ctx, id, "SIGKILL")
	}
	select {
	case r := <-exited:
		return r
	case <-time.After(grace):
	}
	_ = b.eng.Kill(ctx, id, "SIGKILL")
	select {
	case r := <-exited:
		return r
	case <-time.After(10 * time.Second):
		return exitResult{code: 137}
	}
}

// End snapshots the transcript, marks a crash with .preserve, removes
// every resource and releases the state dir (which stays). It reports
// whether a transcript was saved.
func (b *Bottle) End(ctx context.Context, code int, crashed bool) (bool, error) {
	defer b.lock.Release()
	var errs []error
	saved, err := b.snapshot(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("saving the transcript: %w", err))
	}
	if crashed {
		note := fmt.Sprintf("agent exited with code %d at %s; kept so cleanup never removes the evidence (remove this file to let it go)\n", code, b.opt.Now().UTC().Format(time.RFC3339))
		if err := os.WriteFile(filepath.Join(b.Project.StateDir, statedir.PreserveFile), []byte(note), 0o600); err != nil {
			errs = append(errs, fmt.Errorf("writing .preserve: %w", err))
		}
	}
	if err := b.teardown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("%w (run bottle-cleanup to remove what is left)", err))
	}
	now := b.opt.Now().UTC().Truncate(time.Second)
	if err := b.writeMeta(func(m *Meta) { m.Ended, m.ExitCode = &now, &code }); err != nil {
		errs = append(errs, fmt.Errorf("writing bottle.json: %w", err))
	}
	return saved, errors.Join(errs...)
}

// snapshot copies the agent's transcript tree into <state dir>/transcript/.
// An agent that wrote nothing leaves no transcript.
func (b *Bottle) snapshot(ctx context.Context) (bool, error) {
	id := b.ids[ServiceAgent]
	if id == "" {
		return false, nil
	}
	rc, err := b.eng.CopyFrom(ctx, id, AgentTranscript)
	if engine.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer rc.Close()
	return Extract(rc, filepath.Join(b.Project.StateDir, "transcript"))
}

// Extract unpacks a tar whose entries all sit under one top directory into
// dest, without that top directory. Only regular files and directories are
// written, never outside dest. It reports whether any file was written.
func Extract(r io.Reader, dest string) (bool, error) {
	tr := tar.NewReader(r)
	wrote := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return wrote, nil
		}
		if err != nil {
			return wrote, err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		_, rest, ok := strings.Cut(name, "/")
		if !ok || rest == "" || rest == ".." || strings.HasPrefix(rest, "../") {
			continue
		}
		target := filepath.Join(dest, filepath.FromSlash(rest))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return wrote, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return wrote, err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return wrote, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return wrote, err
			}
			wrote = true
		}
	}
}

// AgentID is the agent container's ID.
func (b *Bottle) AgentID() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[ServiceAgent]
}
