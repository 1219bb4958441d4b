package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// services returns the agent's and the sidecar's definitions.
func (b *Launched) services() (agent, sidecar Service, agentEnv map[string]string) {
	p, s := b.Project, b.spec
	agentEnv = AgentEnv(s)
	redacted := map[string]string{}
	own := launcherEnv(s)
	for k, v := range agentEnv {
		if _, mine := own[k]; !mine {
			v = "(from the spec)" // a spec's value may be a secret
		}
		redacted[k] = v
	}
	agent = Service{
		Image: s.Image, ContainerName: p.ContainerName(bottle.ServiceAgent), Command: b.command(), Environment: redacted,
		Networks: map[string]*Aliases{bottle.NetInternal: {Aliases: []string{bottle.ServiceAgent}}}, Volumes: []string{bottle.VolHome + ":" + bottle.AgentHome},
		DependsOn: map[string]DependsOn{bottle.ServiceSidecar: {Condition: "service_healthy"}}, StdinOpen: b.opt.Stdin, Tty: b.opt.TTY,
		Labels: composeGuard(p.Name), User: b.runAs, CapDrop: DropAll, SecurityOpt: agentSecurityOpts(p.SeccompFile()), Sysctls: b.agentSysctls(),
	}
	if s.Workspace != "" {
		agent.Volumes = append(agent.Volumes, s.Workspace+":"+bottle.AgentWorkspace)
		agent.WorkingDir = bottle.AgentWorkspace
	}
	cmd := s.Sidecar.Command
	if cmd == nil {
		cmd = []string{"run", "--config", bottle.SidecarConfig}
	}
	hc := SidecarHealthcheck(s.Sidecar.Port)
	sidecar = Service{
		Image: s.Sidecar.Image, ContainerName: p.ContainerName(bottle.ServiceSidecar), Command: cmd,
		Networks:    map[string]*Aliases{bottle.NetInternal: {Aliases: []string{bottle.ServiceSidecar}}, bottle.NetEgress: {Aliases: []string{bottle.ServiceSidecar}}},
		Healthcheck: &ComposeHealthcheck{Test: append([]string{"CMD"}, hc.Test...), Interval: hc.Interval.String(), Timeout: hc.Timeout.String(), StartPeriod: hc.StartPeriod.String(), Retries: hc.Retries},
		Labels:      composeGuard(p.Name), CapDrop: DropAll, SecurityOpt: securityOpts(),
	}
	for _, n := range s.Sidecar.Networks {
		sidecar.Networks[n] = &Aliases{Aliases: []string{bottle.ServiceSidecar}}
	}
	return agent, sidecar, agentEnv
}

func (b *Launched) create(ctx context.Context) error {
	if b.smol != nil {
		return b.smolCreate(ctx)
	}
	p, s := b.Project, b.spec
	// Who the agent runs as is decided before anything is made: the
	// create takes it, and the compose file says it.
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	runAs, err := b.createUser(uctx)
	ucancel()
	if err != nil {
		return &StepError{"reading the agent image's user", err}
	}
	b.runAs = runAs
	agentSvc, sidecarSvc, agentEnv := b.services()
	if err := b.writeCompose(agentSvc, sidecarSvc); err != nil {
		return err
	}
	if err := os.WriteFile(p.SeccompFile(), SeccompProfile(), 0o600); err != nil {
		return &StepError{"writing the agent's seccomp profile", err}
	}

	// A failure or an interrupt stops the other steps between engine calls,
	// never during one: every call runs on a context the interrupt does not
	// cancel, so each create's answer (and ID) arrives. A create whose
	// request were abandoned may still be done by the engine, and then
	// nobody would know its ID.
	intr := ctx
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	// Waiting is no create: an interrupt, or another step's failure, ends
	// it at once.
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	defer context.AfterFunc(intr, wcancel)()
	st := &steps{intr: intr, stop: wcancel}

	// Each step starts once what it needs is made: a channel closed when
	// its maker returns, failed or not (a step checks st.failed() after
	// the wait). No container is made before the agent's network is made
	// and checked; after that each goes on its own, so the sidecar starts
	// as soon as it is provisioned and connected, while the agent is still
	// being provisioned, and the probe runs once the sidecar started. The
	// agent starts only once every step succeeded: the sidecar answers and
	// the probe reached it from the agent's network.
	internal, egress, volume, files := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	sidecarUp, probeMade := make(chan struct{}), make(chan struct{})
	var ca CA
	var agentTar, sidecarTar []byte
	st.run(internal, func() error {
		if err := b.createNetwork(ctx, bottle.NetInternal); err != nil {
			return err
		}
		// The agent's network as the engine made it (isolation.go).
		return b.checkNetwork(ctx)
	})
	st.run(egress, func() error { return b.createNetwork(ctx, bottle.NetEgress) })
	st.run(volume, func() error {
		name := p.VolumeName(bottle.VolHome)
		err := b.eng.CreateVolume(ctx, name, p.VolumeLabels(bottle.VolHome, ConfigHash(p.volumeDef(bottle.VolHome))))
		b.noteCreate(err)
		if err != nil {
			return &StepError{"creating the home volume", err}
		}
		b.mu.Lock()
		b.volumes = append(b.volumes, bottle.Volume{Name: name, ID: name})
		b.mu.Unlock()
		return nil
	})
	st.run(files, func() (err error) {
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
	st.run(sidecarUp, func() error {
		if !st.after(internal, files) {
			return nil
		}
		return b.provisionSidecar(ctx, st, sidecarSvc, sidecarTar, egress)
	})
	st.run(probeMade, func() error {
		if !st.after(internal) {
			return nil
		}
		return b.createProbe(ctx)
	})
	st.run(nil, func() error {
		if !st.after(internal, volume, files) {
			return nil
		}
		return b.makeAgent(ctx, intr, agentSvc, agentEnv, agentTar, st.failed)
	})
	// Once the sidecar runs: it answers, and the probe reaches it from the
	// agent's network (isolation.go).
	st.run(nil, func() error {
		if !st.after(sidecarUp, probeMade) {
			return nil
		}
		return b.waitReachable(wctx)
	})
	st.wg.Wait()
	if err := intr.Err(); err != nil {
		return err
	}
	if st.first != nil {
		return st.first
	}
	b.setState(bottle.ServiceSidecar, "running")
	agent := b.serviceID(bottle.ServiceAgent)
	probeGone := b.removeProbe(ctx)
	defer probeGone() //nolint:errcheck // a failed launch removes what is left
	if err := b.eng.StartContainer(ctx, agent); err != nil {
		if !NoIPv6(err) || b.noIPv6 {
			return &StepError{"starting the agent", err}
		}
		// The engine's kernel has no IPv6 (ipv6.go): the agent is made
		// again without the sysctls that turn it off.
		if err := b.withoutIPv6(ctx, intr, agentTar); err != nil {
			return err
		}
		if err := intr.Err(); err != nil {
			return err
		}
		agent = b.serviceID(bottle.ServiceAgent)
		if err := b.eng.StartContainer(ctx, agent); err != nil {
			return &StepError{"starting the agent", err}
		}
	}
	b.setState(bottle.ServiceAgent, "running")
	if err := probeGone(); err != nil {
		return err
	}
	if err := intr.Err(); err != nil {
		return err
	}
	return b.writeMeta(nil)
}

// steps runs a launch's steps side by side; the first error stops the
// others between engine calls.
type steps struct {
	intr  context.Context // the launch's: an interrupt stops the steps too
	stop  func()          // called on the first error
	wg    sync.WaitGroup
	mu    sync.Mutex
	first error
}

// run runs f in a goroutine and closes done (when not nil) once f returns.
// f does not run when a step failed already.
func (st *steps) run(done chan struct{}, f func() error) {
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		if done != nil {
			defer close(done)
		}
		if st.failed() {
			return
		}
		if err := f(); err != nil {
			st.mu.Lock()
			if st.first == nil {
				st.first = err
			}
			st.mu.Unlock()
			st.stop()
		}
	}()
}

// failed reports whether a step failed or the launch was interrupted.
func (st *steps) failed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.first != nil || st.intr.Err() != nil
}

// after waits for the steps that close chs and reports whether the launch
// goes on.
func (st *steps) after(chs ...chan struct{}) bool {
	for _, ch := range chs {
		<-ch
	}
	return !st.failed()
}

// provisionSidecar creates the sidecar, copies its config and CA in,
// connects it to the egress network (once made) and the spec's other
// networks, and starts it.
func (b *Launched) provisionSidecar(ctx context.Context, st *steps, svc Service, files []byte, egress chan struct{}) error {
	p, s := b.Project, b.spec
	id, err := b.createContainer(ctx, bottle.ServiceSidecar, engine.ContainerSpec{
		Image: s.Sidecar.Image, Cmd: svc.Command, Network: p.NetworkName(bottle.NetInternal), Aliases: []string{bottle.ServiceSidecar},
		Labels: p.ContainerLabels(bottle.ServiceSidecar, ConfigHash(svc), ""), Healthcheck: SidecarHealthcheck(s.Sidecar.Port),
		CapDrop: DropAll, SecurityOpt: securityOpts(),
	})
	if err != nil {
		return err
	}
	if st.failed() {
		return nil
	}
	if err := b.eng.CopyTo(ctx, id, "/", bytes.NewReader(files)); err != nil {
		return &StepError{"copying the config and CA into the sidecar", err}
	}
	if !st.after(egress) {
		return nil
	}
	for _, n := range append([]string{p.NetworkName(bottle.NetEgress)}, s.Sidecar.Networks...) {
		if st.failed() {
			return nil
		}
		// compose gives a service its name as an alias on every network
		if err := b.eng.Connect(ctx, n, id, []string{bottle.ServiceSidecar}); err != nil {
			if cerrdefs.IsNotFound(err) {
				err = fmt.Errorf("network %q does not exist", n)
			}
			return &StepError{"connecting the sidecar to network " + n, err}
		}
	}
	if st.failed() {
		return nil
	}
	if err := b.eng.StartContainer(ctx, id); err != nil {
		return &StepError{"starting the sidecar", err}
	}
	return nil
}

// makeAgent creates the agent's container and provisions it (its files,
// its transcript when resumed), and attaches to it when asked. failed
// says the launch is failing or interrupted: it stops between calls.
func (b *Launched) makeAgent(ctx, intr context.Context, agentSvc Service, agentEnv map[string]string, agentTar []byte, failed func() bool) error {
	p, s := b.Project, b.spec
	spec := engine.ContainerSpec{
		Image: s.Image, Cmd: b.command(), Env: Env(agentEnv), Network: p.NetworkName(bottle.NetInternal), Aliases: []string{bottle.ServiceAgent},
		Labels: p.ContainerLabels(bottle.ServiceAgent, ConfigHash(agentSvc), DependsOnSidecar), Volumes: map[string]string{p.VolumeName(bottle.VolHome): bottle.AgentHome},
		Tty: b.opt.TTY, OpenStdin: b.opt.Stdin,
		User: b.runAs, CapDrop: DropAll, SecurityOpt: agentSecurityOpts(string(SeccompProfile())), Sysctls: b.agentSysctls(),
	}
	if s.Workspace != "" {
		spec.Binds = map[string]string{s.Workspace: bottle.AgentWorkspace}
		spec.WorkingDir = bottle.AgentWorkspace
	}
	id, err := b.createContainer(ctx, bottle.ServiceAgent, spec)
	if err != nil {
		return err
	}
	if failed() {
		return nil
	}
	user, err := b.agentUser(ctx, id)
	if err != nil {
		return &StepError{"resolving the agent image's user", err}
	}
	if user.UID == 0 && !s.ExplicitRoot() {
		// a name the image's passwd gives uid 0
		return &StepError{"resolving the agent image's user", fmt.Errorf("the agent would run as root (its user is uid 0 in the image's /etc/passwd): set \"user\" in the spec to a non-root uid such as %s, or to root to allow it", DefaultUser)}
	}
	owned, err := OwnHome(agentTar, user)
	if err != nil {
		return &StepError{"resolving the agent image's user", err}
	}
	if failed() {
		return nil
	}
	if err := b.eng.CopyTo(ctx, id, "/", bytes.NewReader(owned)); err != nil {
		return &StepError{"copying the prompt, skills, git config and CA into the agent", err}
	}
	if b.restore() != "" {
		if failed() {
			return nil
		}
		if err := b.restoreTranscript(ctx, id, user); err != nil {
			return &StepError{"restoring the transcript into the agent's home", err}
		}
	}
	if b.opt.Attach {
		// The attachment outlives this function's timeout.
		att, err := b.eng.Attach(context.WithoutCancel(intr), id, b.opt.Stdin, b.opt.TTY)
		if err != nil {
			return &StepError{"attaching to the agent", err}
		}
		b.attach = att
	}
	return nil
}

// callTimeout bounds the engine calls of one launch.
const callTimeout = 2 * time.Minute

func (b *Launched) createNetwork(ctx context.Context, key string) error {
	p := b.Project
	// The internal network is the agent's only one: no route out, and no
	// address of the host on it, so the agent reaches nothing but the
	// sidecar (an internal bridge still lets it reach the host's own
	// services through the gateway address).
	internal := key == bottle.NetInternal
	return b.makeNetwork(ctx, "creating the "+key+" network", engine.NetworkSpec{Name: p.NetworkName(key), Internal: internal, NoHostAddress: internal, Labels: p.NetworkLabels(key, ConfigHash(p.networkDef(key)))})
}

// makeNetwork creates a network and records it; step names it in an error.
func (b *Launched) makeNetwork(ctx context.Context, step string, spec engine.NetworkSpec) error {
	id, err := b.eng.CreateNetwork(ctx, spec)
	b.noteCreate(err)
	if err != nil {
		if engine.IsAddressPoolExhausted(err) {
			err = fmt.Errorf("%w; the engine has no address pool left for another network: leaked networks of killed bottles are the usual cause — see them with bottle-plan-cleanup --kind network and remove them with bottle-cleanup", err)
		}
		return &StepError{step, err}
	}
	b.mu.Lock()
	b.networks = append(b.networks, bottle.Network{Name: spec.Name, ID: id})
	b.mu.Unlock()
	return nil
}

func (b *Launched) createContainer(ctx context.Context, service string, spec engine.ContainerSpec) (string, error) {
	spec.Name = b.Project.ContainerName(service)
	// compose labels a container with its image's ID (checkImages found
	// it; an image removed since is not found by the create either)
	b.mu.Lock()
	imageID, ok := b.images[spec.Image]
	b.mu.Unlock()
	var err error
	if !ok {
		imageID, err = b.eng.ImageID(ctx, spec.Image)
	}
	if err != nil {
		return "", &StepError{"creating the " + service + " container", containerErr(spec, err)}
	}
	spec.Labels[LabelImage] = imageID
	return b.makeContainer(ctx, service, spec)
}

// makeContainer creates service's container (named spec.Name) and records it.
func (b *Launched) makeContainer(ctx context.Context, service string, spec engine.ContainerSpec) (string, error) {
	id, err := b.eng.CreateContainer(ctx, spec)
	b.noteCreate(err)
	if err != nil {
		return "", &StepError{"creating the " + service + " container", containerErr(spec, err)}
	}
	b.mu.Lock()
	b.ids[service] = id
	b.containers = append(b.containers, bottle.Container{Name: spec.Name, ID: id, Service: service, State: "created"})
	b.mu.Unlock()
	return id, nil
}

// containerErr says what a failed container create means: an image not on
// the engine, a name taken.
func containerErr(spec engine.ContainerSpec, err error) error {
	switch {
	case cerrdefs.IsNotFound(err) && strings.Contains(strings.ToLower(err.Error()), "image"):
		return fmt.Errorf("image %q is not on this engine (bottle-launch does not pull: run docker pull %s)", spec.Image, spec.Image)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("the name %s is already taken: %w", spec.Name, err)
	}
	return err
}

func (b *Launched) setState(service, state string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.containers {
		if b.containers[i].Service == service {
			b.containers[i].State = state
		}
	}
}

// noteCreate records that a create may have made something: it succeeded,
// or failed in a way that does not prove the request never reached the
// engine.
func (b *Launched) noteCreate(err error) {
	if err != nil && neverSent(err) {
		return
	}
	b.mu.Lock()
	b.created = true
	b.mu.Unlock()
}

// neverSent reports whether a call failed before its request could reach
// the engine: the connection to it could not be made.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES)
}
