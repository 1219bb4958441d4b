package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// NetworkSpec is a network to create.
type NetworkSpec struct {
	Name     string
	Internal bool // no route out of the host
	// NoHostAddress keeps the host from taking an address on the network
	// (the bridge driver's com.docker.network.bridge.inhibit_ipv4, Docker
	// 20.10 and newer): its containers cannot reach the host's own services
	// through the network's gateway address.
	NoHostAddress bool
	Labels        map[string]string
}

// ContainerSpec is a container to create. Only fields the Engine API 1.41
// knows are used.
type ContainerSpec struct {
	Name       string
	Image      string
	Cmd        []string // nil keeps the image's
	Entrypoint []string // nil keeps the image's
	Env        []string
	Labels     map[string]string
	WorkingDir string
	Tty        bool
	OpenStdin  bool // stdin stays open for one attached client, then closes
	// Network is the network the container joins at creation, with
	// Aliases (DNS names on it); Connect joins more afterwards.
	Network string
	Aliases []string
	// Volumes maps a volume name to its mount path; Binds a host path to one.
	Volumes map[string]string
	Binds   map[string]string
	// VolumeNoCopy mounts the volumes without copying the image's content
	// at the mount path into an empty one.
	VolumeNoCopy bool
	// Healthcheck replaces the image's; nil keeps it.
	Healthcheck *Healthcheck
	// PublishLocal are container TCP ports published on the host's
	// 127.0.0.1 only, each at a free port the engine picks when the
	// container starts (PublishedPort tells which).
	PublishLocal []int
	// User is who the process runs as ("" keeps the image's USER).
	User string
	// CapDrop and CapAdd are the capabilities taken away from and given
	// to the process ("ALL" drops every one).
	CapDrop, CapAdd []string
	// SecurityOpt are the engine's security options: no-new-privileges,
	// seccomp=<profile JSON>.
	SecurityOpt []string
	// Sysctls are namespaced kernel settings of the container.
	Sysctls map[string]string
}

// Attachment is a running container's attached stdio.
type Attachment struct {
	conn   net.Conn
	reader io.Reader
	tty    bool
}

// Write writes to the container's stdin.
func (a *Attachment) Write(p []byte) (int, error) { return a.conn.Write(p) }

// CloseWrite closes the container's stdin, keeping its output open.
func (a *Attachment) CloseWrite() error {
	if cw, ok := a.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close ends the attachment.
func (a *Attachment) Close() error { return a.conn.Close() }

// Copy copies the container's output to stdout and stderr until it ends:
// raw with a TTY (stdout and stderr are one stream), demultiplexed without.
func (a *Attachment) Copy(stdout, stderr io.Writer) error {
	var err error
	if a.tty {
		_, err = io.Copy(stdout, a.reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, a.reader)
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// Launcher creates, provisions, runs and removes a bottle's resources.
type Launcher interface {
	Lister
	Inspector
	Prober
	CreateNetwork(ctx context.Context, spec NetworkSpec) (id string, err error)
	CreateVolume(ctx context.Context, name string, labels map[string]string) error
	CreateContainer(ctx context.Context, spec ContainerSpec) (id string, err error)
	// Connect joins a created container to another network.
	Connect(ctx context.Context, network, containerID string, aliases []string) error
	// Disconnect takes a container, running or not, off a network (forced:
	// its endpoint goes even while the container runs).
	Disconnect(ctx context.Context, network, containerID string) error
	// ContainerUser is the user a created container runs as (its config's
	// User: the image's USER unless the create set one), as written there.
	ContainerUser(ctx context.Context, id string) (string, error)
	// ImageUser is a local image's USER as its config writes it ("" for
	// none).
	ImageUser(ctx context.Context, ref string) (string, error)
	// CopyTo extracts a tar archive at dir inside the container; files
	// get the uid and gid of their tar headers, as they are. The engine
	// must take each part of it within the engine timeout.
	CopyTo(ctx context.Context, containerID, dir string, tar io.Reader) error
	// CopyFrom returns a tar archive of path inside the container; its
	// first byte, and each next one, must come within the engine timeout.
	CopyFrom(ctx context.Context, containerID, path string) (io.ReadCloser, error)
	StartContainer(ctx context.Context, id string) error
	// Attach attaches to a container's stdio (stdin too when withStdin);
	// tty must match how the container was created.
	Attach(ctx context.Context, id string, withStdin, tty bool) (*Attachment, error)
	// Wait waits until the container is not running and returns its exit code.
	Wait(ctx context.Context, id string) (int, error)
	Kill(ctx context.Context, id, signal string) error
	Resize(ctx context.Context, id string, height, width uint) error
}

var _ Launcher = (*Client)(nil)

// InhibitIPv4 is the bridge driver's option that leaves the bridge (the
// host's side of the network) without an IPv4 address.
const InhibitIPv4 = "com.docker.network.bridge.inhibit_ipv4"

// CreateNetwork creates a bridge network.
func (e *Client) CreateNetwork(ctx context.Context, spec NetworkSpec) (string, error) {
	opts := client.NetworkCreateOptions{Driver: "bridge", Internal: spec.Internal, Labels: spec.Labels}
	if spec.NoHostAddress {
		opts.Options = map[string]string{InhibitIPv4: "true"}
	}
	ctx, cancel := e.bound(ctx, "POST /networks/create")
	defer cancel()
	res, err := e.c.NetworkCreate(ctx, spec.Name, opts)
	if err != nil {
		return "", e.answer(ctx, err)
	}
	return res.ID, nil
}

// CreateVolume creates a named local volume.
func (e *Client) CreateVolume(ctx context.Context, name string, labels map[string]string) error {
	ctx, cancel := e.bound(ctx, "POST /volumes/create")
	defer cancel()
	_, err := e.c.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Driver: "local", Labels: labels})
	return e.answer(ctx, err)
}

// CreateContainer creates a container; it does not pull its image.
func (e *Client) CreateContainer(ctx context.Context, spec ContainerSpec) (string, error) {
	cfg := &container.Config{
		Image: spec.Image, Cmd: spec.Cmd, Entrypoint: spec.Entrypoint, Env: spec.Env, Labels: spec.Labels, WorkingDir: spec.WorkingDir,
		Tty: spec.Tty, OpenStdin: spec.OpenStdin, StdinOnce: spec.OpenStdin, AttachStdin: spec.OpenStdin,
		AttachStdout: true, AttachStderr: true, Healthcheck: spec.Healthcheck.config(), User: spec.User,
	}
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(spec.Network), CapDrop: spec.CapDrop, CapAdd: spec.CapAdd, SecurityOpt: spec.SecurityOpt, Sysctls: spec.Sysctls}
	if err := publishLocal(cfg, hc, spec.PublishLocal); err != nil {
		return "", err
	}
	for name, target := range spec.Volumes {
		m := mount.Mount{Type: mount.TypeVolume, Source: name, Target: target}
		if spec.VolumeNoCopy {
			m.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
		}
		hc.Mounts = append(hc.Mounts, m)
	}
	for src, target := range spec.Binds {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: src, Target: target})
	}
	var nc *network.NetworkingConfig
	if spec.Network != "" {
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: spec.Aliases},
		}}
	}
	if err := e.negotiate(ctx); err != nil {
		return "", err
	}
	ctx, cancel := e.bound(ctx, "POST /containers/create")
	defer cancel()
	res, err := e.c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: spec.Name, Config: cfg, HostConfig: hc, NetworkingConfig: nc})
	if err != nil {
		return "", e.answer(ctx, err)
	}
	return res.ID, nil
}

// Connect joins a container to a network.
func (e *Client) Connect(ctx context.Context, networkID, containerID string, aliases []string) error {
	ctx, cancel := e.bound(ctx, "POST /networks/"+networkID+"/connect")
	defer cancel()
	_, err := e.c.NetworkConnect(ctx, networkID, client.NetworkConnectOptions{
		Container: containerID, EndpointConfig: &network.EndpointSettings{Aliases: aliases},
	})
	return e.answer(ctx, err)
}

// Disconnect force-disconnects a container from a network.
func (e *Client) Disconnect(ctx context.Context, networkID, containerID string) error {
	ctx, cancel := e.bound(ctx, "POST /networks/"+networkID+"/disconnect")
	defer cancel()
	_, err := e.c.NetworkDisconnect(ctx, networkID, client.NetworkDisconnectOptions{Container: containerID, Force: true})
	return e.answer(ctx, err)
}

// ContainerUser returns a container's configured user.
func (e *Client) ContainerUser(ctx context.Context, id string) (string, error) {
	ctx, cancel := e.bound(ctx, "GET /containers/"+id+"/json")
	defer cancel()
	res, err := e.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", e.answer(ctx, err)
	}
	if res.Container.Config == nil {
		return "", nil
	}
	return res.Container.Config.User, nil
}

// ImageUser returns a local image's configured USER.
func (e *Client) ImageUser(ctx context.Context, ref string) (string, error) {
	ctx, cancel := e.bound(ctx, "GET /images/"+ref+"/json")
	defer cancel()
	res, err := e.c.ImageInspect(ctx, ref)
	if err != nil {
		return "", e.answer(ctx, err)
	}
	if res.Config == nil {
		return "", nil
	}
	return res.Config.User, nil
}

// StartContainer starts a created container.
func (e *Client) StartContainer(ctx context.Context, id string) error {
	ctx, cancel := e.bound(ctx, "POST /containers/"+id+"/start")
	defer cancel()
	_, err := e.c.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return e.answer(ctx, err)
}

// Attach attaches to a container's streams. It is not bounded: the
// attachment lasts as long as the container runs (the foreground relay).
func (e *Client) Attach(ctx context.Context, id string, withStdin, tty bool) (*Attachment, error) {
	sc, err := e.streams(ctx)
	if err != nil {
		return nil, err
	}
	res, err := sc.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdin: withStdin, Stdout: true, Stderr: true})
	if err != nil {
		return nil, e.wrap(err)
	}
	return &Attachment{conn: res.Conn, reader: res.Reader, tty: tty}, nil
}

// Wait waits for the container to stop and returns its exit code. It is
// not bounded: it lasts as long as the container runs; a caller that waits
// as part of an ending bounds it (ctx).
func (e *Client) Wait(ctx context.Context, id string) (int, error) {
	sc, err := e.streams(ctx)
	if err != nil {
		return -1, err
	}
	w := sc.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), fmt.Errorf("waiting for %s: %s", id, r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-w.Error:
		return -1, e.wrap(err)
	}
}

// Kill sends a signal to a running container.
func (e *Client) Kill(ctx context.Context, id, signal string) error {
	ctx, cancel := e.bound(ctx, "POST /containers/"+id+"/kill")
	defer cancel()
	_, err := e.c.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal})
	return e.answer(ctx, err)
}

// Resize sets a TTY container's terminal size.
func (e *Client) Resize(ctx context.Context, id string, height, width uint) error {
	ctx, cancel := e.bound(ctx, "POST /containers/"+id+"/resize")
	defer cancel()
	_, err := e.c.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: height, Width: width})
	return e.answer(ctx, err)
}

// IsAddressPoolExhausted reports whether a network creation failed because
// the engine's address pools are used up.
func IsAddressPoolExhausted(err error) bool {
	return err != nil && strings.Contains(err.Error(), "could not find an available, non-overlapping IPv4 address pool")
}

// IsNotRunning reports whether a kill failed because the container had
// already stopped (409).
func IsNotRunning(err error) bool {
	return err != nil && strings.Contains(err.Error(), "is not running")
}
