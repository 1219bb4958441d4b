package launch

// A smolmachines launch's creates: the bundle, the machine made from the
// image with the home layer, started, and the detached agent (see smol.go).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/imagetar"
)

// smolCreate makes a smolmachines bottle whose state dir is made: the
// bundle's network and container (started and answering), the machine
// (created from the image, started), provisioned, and, detached, the
// agent started in it. Each smolvm or engine call runs to its answer; a
// failure or an interrupt stops the steps between calls.
func (b *Launched) smolCreate(intr context.Context) error {
	p, s, sm := b.Project, b.spec, b.smol
	sm.machine = p.Name
	ctx, cancel := context.WithTimeout(context.WithoutCancel(intr), callTimeout)
	defer cancel()
	step := func(err error) error {
		if err != nil {
			return err
		}
		return intr.Err()
	}

	// The bundle: its network, the CA and the sidecar's config, its
	// container (published on 127.0.0.1 only), started and answering.
	net := bottle.BundleNetworkName(b.opt.Prefix, p.Slug)
	if err := b.makeNetwork(ctx, "creating the bundle network", engine.NetworkSpec{Name: net, Labels: b.smolLabels()}); err != nil {
		return err
	}
	ca, err := NewCA(p.Name, b.Created)
	if err != nil {
		return &StepError{"making the CA", err}
	}
	sm.ca = ca.CertPEM
	sidecarTar, err := SidecarFiles(s, ca, b.Created)
	if err != nil {
		return &StepError{"writing the sidecar's config", err}
	}
	if err := step(nil); err != nil {
		return err
	}
	cmd := s.Sidecar.Command
	if cmd == nil {
		cmd = []string{"run", "--config", bottle.SidecarConfig}
	}
	name := bottle.BundleContainerName(b.opt.Prefix, p.Slug)
	cid, err := b.makeContainer(ctx, bottle.ServiceSidecar, engine.ContainerSpec{
		Name: name, Image: s.Sidecar.Image, Cmd: cmd, Network: net, Aliases: []string{bottle.ServiceSidecar},
		Labels: b.smolLabels(), Healthcheck: SidecarHealthcheck(s.Sidecar.Port), PublishLocal: []int{s.Sidecar.Port},
	})
	if err != nil {
		return err
	}
	for _, n := range s.Sidecar.Networks {
		if err := step(nil); err != nil {
			return err
		}
		if err := b.eng.Connect(ctx, n, cid, []string{bottle.ServiceSidecar}); err != nil {
			if engine.IsNotFound(err) {
				err = fmt.Errorf("network %q does not exist", n)
			}
			return &StepError{"connecting the sidecar to network " + n, err}
		}
	}
	if err := step(nil); err != nil {
		return err
	}
	if err := b.eng.CopyTo(ctx, cid, "/", bytes.NewReader(sidecarTar)); err != nil {
		return &StepError{"copying the config and CA into the sidecar", err}
	}
	if err := step(b.eng.StartContainer(ctx, cid)); err != nil {
		if intr.Err() == nil {
			err = &StepError{"starting the sidecar", err}
		}
		return err
	}
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	defer context.AfterFunc(intr, wcancel)()
	if err := b.waitSidecar(wctx); err != nil {
		if ierr := intr.Err(); ierr != nil {
			return ierr
		}
		return err
	}
	b.setState(bottle.ServiceSidecar, "running")
	if sm.port, err = b.eng.(engine.Images).PublishedPort(ctx, cid, s.Sidecar.Port); err != nil {
		return &StepError{"reading the sidecar's published port", err}
	}
	if err := step(nil); err != nil {
		return err
	}

	// The machine.
	if err := b.smolCreateMachine(intr); err != nil {
		return err
	}
	if err := step(nil); err != nil {
		return err
	}
	if err := sm.CLI.Start(context.WithoutCancel(intr), sm.env(), sm.machine, smolStartTimeout); err != nil {
		return &StepError{"starting the machine", err}
	}
	if err := step(nil); err != nil {
		return err
	}
	if err := b.smolProvision(intr); err != nil {
		return err
	}
	if err := step(nil); err != nil {
		return err
	}
	if !b.opt.Attach {
		// Detached: the agent runs in the background of the machine.
		args, env := b.smolAgentExec("-d")
		if _, err := sm.CLI.RunWith(context.WithoutCancel(intr), smolCallTimeout, env, nil, args...); err != nil {
			return &StepError{"starting the agent", err}
		}
	}
	if err := step(nil); err != nil {
		return err
	}
	return b.writeMeta(nil)
}

// smolLabels are a bundle part's labels: the toolkit's own, never a
// compose project's (those would make it the docker backend's).
func (b *Launched) smolLabels() map[string]string {
	l := b.Project.Owner()
	l[bottle.LabelSlug], l[bottle.LabelAgent], l[bottle.LabelVersion] = b.Project.Slug, b.Project.Agent, b.Project.Version
	return l
}

// smolAgentEnv splits the agent's environment: what the launcher sets (the
// proxy at the gateway, the CA, home, BOTTLE_*), given at create and kept
// in smolvm's record, and the spec's own values (which the launcher's do
// not override: they may be secrets), given to the agent's exec only, by
// --secret-env, so smolvm never stores them.
func (b *Launched) smolAgentEnv() (launcher map[string]string, secret map[string]string) {
	s := b.spec
	env := AgentEnv(s)
	proxy := "http://" + SmolGatewayName + ":" + strconv.Itoa(b.smol.port)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		env[k] = proxy
	}
	noProxy := "localhost,127.0.0.1,::1"
	env["NO_PROXY"], env["no_proxy"] = noProxy, noProxy
	launcher, secret = map[string]string{}, map[string]string{}
	for k, v := range env {
		if sv, ok := s.Env[k]; ok && sv == v {
			secret[k] = v
		} else {
			launcher[k] = v
		}
	}
	return launcher, secret
}

// smolCreateArgs are `smolvm machine create`'s arguments: the image on
// stdin, the labels, a network policy that allows the gateway only
// (virtio-net, chosen by the policy; DNS answers nothing but the gateway's
// name), the launcher's environment, the workspace, and the idle workload.
func (b *Launched) smolCreateArgs() []string {
	p, s := b.Project, b.spec
	args := []string{"machine", "create", "--name", b.smol.machine, "--image", "-",
		"--label", bottle.LabelSlug + "=" + p.Slug, "--label", bottle.LabelAgent + "=" + p.Agent, "--label", bottle.LabelVersion + "=" + p.Version,
		"--allow-host", SmolGateway}
	launcher, _ := b.smolAgentEnv()
	for _, kv := range Env(launcher) {
		args = append(args, "-e", kv)
	}
	if s.Workspace != "" {
		args = append(args, "-v", s.Workspace+":"+bottle.AgentWorkspace, "-w", bottle.AgentWorkspace)
	}
	return append(append(args, "--"), SmolIdle...)
}

// smolHome is the layer added to the agent's image: the agent's home and
// the trees under it that the launcher and the agent write, owned by the
// image's user. smolvm v1.9.3 runs every command in a machine as the
// image's USER and its cp makes missing directories root's, so nothing
// could make these the user's once the machine runs.
func (b *Launched) smolHome() []imagetar.Entry {
	u := b.smol.User
	dir := func(p string) imagetar.Entry {
		return imagetar.Entry{Path: p, Mode: 0o755, UID: u.UID, GID: u.GID, Dir: true}
	}
	entries := []imagetar.Entry{dir(bottle.AgentHome), dir(path.Dir(bottle.AgentTranscript)), dir(bottle.AgentTranscript)}
	if b.spec.Skills != "" {
		entries = append(entries, dir(bottle.AgentSkills))
	}
	return entries
}

// smolCreateMachine streams the agent's image out of the engine (docker
// save), with the home layer added, into `smolvm machine create --image -`.
func (b *Launched) smolCreateMachine(intr context.Context) error {
	sm, s := b.smol, b.spec
	ctx, cancel := context.WithTimeout(context.WithoutCancel(intr), smolCreateTimeout)
	defer cancel()
	layer, err := imagetar.Layer(b.smolHome())
	if err != nil {
		return &StepError{"making the agent's home layer", err}
	}
	rc, err := b.eng.(engine.Images).SaveImage(ctx, s.Image)
	if err != nil {
		return &StepError{"reading image " + s.Image + " (docker save)", err}
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	extended := make(chan error, 1)
	go func() {
		_, err := imagetar.ExtendAs(rc, pw, layer, fmt.Sprintf("bottle-launch: %s owned by %s", bottle.AgentHome, sm.User), sm.RunAs)
		pw.CloseWithError(err)
		extended <- err
	}()
	cmd := sm.CLI.Cmd(ctx, sm.env(), b.smolCreateArgs()...)
	cmd.Stdin = pr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	pr.CloseWithError(io.ErrClosedPipe)
	xerr := <-extended
	msg := oneLine(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "Error: "))
	if err != nil && !strings.Contains(msg, "already exists") {
		// Only a name already taken proves it made nothing.
		sm.made = true
	}
	if err == nil {
		sm.made = true
	}
	switch {
	case err != nil && msg != "":
		return &StepError{"creating the machine", fmt.Errorf("smolvm machine create: %s", msg)}
	case err != nil:
		return &StepError{"creating the machine", fmt.Errorf("smolvm machine create: %w", err)}
	case xerr != nil && !errors.Is(xerr, io.ErrClosedPipe):
		return &StepError{"reading image " + s.Image + " (docker save)", xerr}
	}
	return nil
}
