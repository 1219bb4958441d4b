// Package engine is the only place that talks to the Docker Engine. It
// wraps github.com/moby/moby/client (the maintained continuation of the
// frozen github.com/docker/docker/client) behind small interfaces and plain
// types, so the rest of the toolkit never imports the client and tests can
// fake exactly the calls they need.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-connections/tlsconfig"
	"github.com/moby/moby/client"
)

// Container is a container as a list or inspect call reports it.
type Container struct {
	ID      string
	Name    string // without the leading "/"
	Labels  map[string]string
	State   string // created, running, paused, restarting, removing, exited, dead
	Created time.Time
	// Mounts are its mounts (list and inspect; Anonymous is known from
	// inspect only).
	Mounts []Mount
	// Networks maps the name of every network it is attached to, running or
	// not, to that network's ID ("" while the container never ran).
	Networks map[string]string
	// Unread are the fields the engine gave in a form that could not be
	// read (the others are read); see read.go.
	Unread []Unread
}

// Mount is one mount of a container.
type Mount struct {
	Type        string // volume, bind, tmpfs, …
	Name        string // the volume's name (volumes only)
	Destination string
	// Anonymous is set (inspect only) for a volume the engine made for this
	// container itself: an image's VOLUME or `-v /path`, neither named by
	// it (-v name:/path, --mount) nor taken from another container
	// (--volumes-from; a container with any --volumes-from claims none).
	Anonymous bool
}

// Network is a network as a list or inspect call reports it.
type Network struct {
	ID      string
	Name    string
	Labels  map[string]string
	Created time.Time
	// Containers holds the IDs of attached containers (inspect only).
	Containers []string
	// Internal, IPv6, Options and Subnets are how the network is made, as
	// the engine reports it (what it kept of what it was asked for).
	Internal, IPv6 bool
	Options        map[string]string
	Subnets        []Subnet
	// Unread are the fields the engine gave in a form that could not be
	// read (the others are read); see read.go.
	Unread []Unread
}

// Subnet is one of a network's IPAM configs, as written by the engine
// (podman with CNI writes an internal network's gateway as "<nil>").
type Subnet struct {
	Subnet, Gateway string
}

// Volume is a volume as a list or inspect call reports it.
type Volume struct {
	Name    string
	Labels  map[string]string
	Created time.Time
}

// Lister lists what the engine holds. Each call is one request, however
// many resources there are.
type Lister interface {
	Containers(ctx context.Context) ([]Container, error)
	Networks(ctx context.Context) ([]Network, error)
	Volumes(ctx context.Context) ([]Volume, error)
}

// Inspector inspects single resources and removes them. Inspect calls return an
// error for which IsNotFound is true when the resource does not exist.
type Inspector interface {
	InspectContainer(ctx context.Context, idOrName string) (Container, error)
	InspectNetwork(ctx context.Context, idOrName string) (Network, error)
	InspectVolume(ctx context.Context, name string) (Volume, error)
	// RemoveContainer force-removes a container (a running one is killed
	// first) with its anonymous volumes.
	RemoveContainer(ctx context.Context, id string) error
	RemoveNetwork(ctx context.Context, id string) error
	RemoveVolume(ctx context.Context, name string) error
}

// Reaper is what the reaper needs beyond Inspector.
type Reaper interface {
	// RemoveContainerOnly force-removes a container and no volume: its
	// anonymous volumes stay (the reaper removes each one the plan lists, by
	// name). `docker rm -v` would take a volume of another container's that
	// this one mounts with --volumes-from.
	RemoveContainerOnly(ctx context.Context, id string) error
	// ContainersUsing lists every container, stopped ones included, that is
	// attached to the network (kind "network": by name or ID) or mounts the
	// volume (kind "volume": by name). The engine's filters are loose (an ID
	// prefix matches): callers compare the answers as plain strings.
	ContainersUsing(ctx context.Context, kind string, names ...string) ([]Container, error)
}

// API is what the read-only tools and the reaper use.
type API interface {
	Lister
	Inspector
	Reaper
	// Endpoint says which engine this is, for messages.
	Endpoint() Endpoint
}

// Client is the real engine.
type Client struct {
	c   *client.Client
	ep  Endpoint
	neg negotiation
	id  identity
	rawHTTP
	// ssh is an ssh:// engine's connections (nil for any other).
	ssh *sshConns
}

var _ API = (*Client)(nil)

// DefaultTimeout bounds how long the engine may take to answer one call
// (connection included): an engine that accepts the connection and never
// answers fails the call after it instead of hanging the tool. A removal
// is answered when it is done (a running container is killed first), so
// it is generous; EnvTimeout changes it.
const DefaultTimeout = 30 * time.Second

// EnvTimeout overrides DefaultTimeout (a Go duration: 10s, 2m).
const EnvTimeout = "BOTTLE_ENGINE_TIMEOUT"

// Dial resolves the engine from the environment and returns a client for
// it. It does not contact the engine; the first call does. Every call is
// bounded by $BOTTLE_ENGINE_TIMEOUT, else DefaultTimeout (see Open).
func Dial(getenv func(string) string) (*Client, error) {
	ep, err := Resolve(getenv)
	if err != nil {
		return nil, err
	}
	return Open(ep)
}

// Open returns a client for ep. Every call (lists, inspects, removals,
// creates, starts, kills, execs, the version ping) must be answered within
// ep.Timeout (DefaultTimeout when zero), and so must a copy's first byte
// and each next one; a call that is not fails with a NoAnswerError (inside
// an UnreachableError) naming the endpoint and the call. Only Wait and
// Attach are not bounded: they last as long as the container runs, and the
// callers that use them in an ending bound them.
func Open(ep Endpoint) (*Client, error) {
	if ep.Timeout <= 0 {
		ep.Timeout = DefaultTimeout
	}
	opts := []client.Opt{client.WithUserAgent("bottle")}
	var conns *sshConns
	switch {
	case ep.IsSSH():
		var err error
		if conns, err = newSSHConns(ep); err != nil {
			return nil, err
		}
		opts = append(opts, conns.opts()...)
	case ep.TLS:
		cfg, err := tlsConfig(ep)
		if err != nil {
			return nil, fmt.Errorf("engine %s: TLS: %v; check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)", ep, err)
		}
		opts = append(opts, client.WithHTTPClient(&http.Client{
			Transport:     &http.Transport{TLSClientConfig: cfg},
			CheckRedirect: client.CheckRedirect,
		}), client.WithHost(ep.Host))
	default:
		opts = append(opts, client.WithHost(ep.Host))
	}
	if ep.APIVersion != "" {
		opts = append(opts, client.WithAPIVersion(ep.APIVersion))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("engine %s: %v", ep, err)
	}
	return &Client{c: c, ep: ep, ssh: conns}, nil
}

// Endpoint returns the engine's address.
func (e *Client) Endpoint() Endpoint { return e.ep }

// Close releases idle connections.
func (e *Client) Close() error {
	if e.ssh != nil {
		e.ssh.close()
	}
	return e.c.Close()
}

// streams is the client of the calls that hold their connection for as
// long as a container runs or a stream flows: waits, attaches (an exec's
// too), copies, image saves. Over ssh it is a client of its own (see
// sshConns), made at the API version agreed on; for any other engine, the
// one client.
func (e *Client) streams(ctx context.Context) (*client.Client, error) {
	if e.ssh == nil {
		return e.c, nil
	}
	if err := e.negotiate(ctx); err != nil {
		return nil, err
	}
	c, err := e.ssh.streamClient(e.c.ClientVersion())
	if err != nil {
		return nil, fmt.Errorf("engine %s: %v", e.ep, err)
	}
	return c, nil
}

// Ping checks that the engine answers and returns its API version.
func (e *Client) Ping(ctx context.Context) (string, error) {
	ctx, cancel := e.bound(ctx, "HEAD /_ping")
	defer cancel()
	p, err := e.c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		return "", e.answer(ctx, err)
	}
	return p.APIVersion, nil
}

// Volumes lists every volume.
func (e *Client) Volumes(ctx context.Context) ([]Volume, error) {
	if err := e.negotiate(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := e.bound(ctx, "GET /volumes")
	defer cancel()
	res, err := e.c.VolumeList(ctx, client.VolumeListOptions{})
	if err != nil {
		return nil, e.answer(ctx, err)
	}
	out := make([]Volume, 0, len(res.Items))
	for _, v := range res.Items {
		out = append(out, Volume{Name: v.Name, Labels: v.Labels, Created: parseTime(v.CreatedAt)})
	}
	return out, nil
}

// InspectVolume returns one volume by name.
func (e *Client) InspectVolume(ctx context.Context, name string) (Volume, error) {
	ctx, cancel := e.bound(ctx, "GET /volumes/"+name)
	defer cancel()
	res, err := e.c.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return Volume{}, e.answer(ctx, err)
	}
	return Volume{Name: res.Volume.Name, Labels: res.Volume.Labels, Created: parseTime(res.Volume.CreatedAt)}, nil
}

// RemoveContainerOnly force-removes a container and keeps its volumes.
func (e *Client) RemoveContainerOnly(ctx context.Context, id string) error {
	ctx, cancel := e.bound(ctx, "DELETE /containers/"+id)
	defer cancel()
	_, err := e.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	return e.answer(ctx, err)
}

// RemoveContainer force-removes a container and its anonymous volumes.
func (e *Client) RemoveContainer(ctx context.Context, id string) error {
	ctx, cancel := e.bound(ctx, "DELETE /containers/"+id)
	defer cancel()
	_, err := e.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	return e.answer(ctx, err)
}

// RemoveNetwork removes a network.
func (e *Client) RemoveNetwork(ctx context.Context, id string) error {
	ctx, cancel := e.bound(ctx, "DELETE /networks/"+id)
	defer cancel()
	_, err := e.c.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
	return e.answer(ctx, err)
}

// RemoveVolume removes a volume (never forced: an in-use volume stays).
func (e *Client) RemoveVolume(ctx context.Context, name string) error {
	ctx, cancel := e.bound(ctx, "DELETE /volumes/"+name)
	defer cancel()
	_, err := e.c.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
	return e.answer(ctx, err)
}

// tlsConfig loads the endpoint's certificates with the docker CLI's own
// library (github.com/docker/go-connections/tlsconfig), the way the CLI
// does: only the given CA is trusted (ExclusiveRootPools); without Verify
// the server's certificate is not checked and no CA is read (DOCKER_TLS
// without DOCKER_TLS_VERIFY, or a context with SkipTLSVerify).
func tlsConfig(ep Endpoint) (*tls.Config, error) {
	return tlsconfig.Client(tlsconfig.Options{
		CAFile: ep.CA, CertFile: ep.Cert, KeyFile: ep.Key,
		InsecureSkipVerify: !ep.Verify, //nolint:gosec // the user asked for it
		ExclusiveRootPools: true,
	})
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// UnreachableError says the engine could not be asked at all.
type UnreachableError struct {
	Endpoint Endpoint
	Err      error
}

func (u *UnreachableError) Error() string {
	var na *NoAnswerError
	if errors.As(u.Err, &na) {
		return na.Error()
	}
	if u.Endpoint.IsSSH() {
		return sshUnreachable(u.Endpoint, u.Err)
	}
	check := "that dockerd is running and that you may use its socket"
	if u.Endpoint.TLS {
		check = "that dockerd is running and that your certificates (ca.pem, cert.pem, key.pem in DOCKER_CERT_PATH or the context) match its"
	}
	return fmt.Sprintf("cannot reach the Docker engine at %s: %v; check %s, or point DOCKER_HOST/DOCKER_CONTEXT at another engine", u.Endpoint, cause(u.Err), check)
}

func (u *UnreachableError) Unwrap() error { return u.Err }

func cause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// NoAnswerError says the engine did not answer a call within the timeout
// (it may have taken the connection and hung).
type NoAnswerError struct {
	Endpoint Endpoint
	Timeout  time.Duration
	Call     string // "GET /containers/json", or "" when unknown
}

func (n *NoAnswerError) Error() string {
	call := "a call"
	if n.Call != "" {
		call = n.Call
	}
	what := "dockerd is not hung"
	if n.Endpoint.IsSSH() {
		what = "the host answers ssh and its dockerd is not hung"
	}
	return fmt.Sprintf("the Docker engine at %s did not answer %s within %s; check that %s, or set %s to wait longer (e.g. %s=2m)",
		n.Endpoint, call, n.Timeout, what, EnvTimeout, EnvTimeout)
}

// bound gives one call (named for messages: "GET /containers/json") the
// endpoint's timeout to be answered.
func (e *Client) bound(ctx context.Context, call string) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, e.ep.Timeout, &NoAnswerError{Endpoint: e.ep, Timeout: e.ep.Timeout, Call: call})
}

// answer is wrap for a call made under bound: a call cut by its bound is
// an UnreachableError holding the NoAnswerError.
func (e *Client) answer(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		var na *NoAnswerError
		if errors.As(context.Cause(ctx), &na) {
			return &UnreachableError{Endpoint: e.ep, Err: na}
		}
	}
	return e.wrap(err)
}

// wrap turns connection failures into an UnreachableError.
func (e *Client) wrap(err error) error {
	if err == nil {
		return nil
	}
	if IsUnreachable(err) {
		return err
	}

	var op *net.OpError
	if client.IsErrConnectionFailed(err) || errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) {
		return &UnreachableError{Endpoint: e.ep, Err: err}
	}
	return err
}

// IsUnreachable reports whether err means the engine could not be asked.
func IsUnreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u)
}

// IsNotFound reports whether err is the engine's 404.
func IsNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// IsNoSuchContainer reports whether err is the engine's 404 for a container
// that does not exist (not, say, for a path that does not exist in one).
func IsNoSuchContainer(err error) bool {
	return IsNotFound(err) && strings.Contains(err.Error(), "No such container")
}

// IsActiveEndpoints reports whether a network removal failed because
// containers are still attached (the engine answers 403 Forbidden).
func IsActiveEndpoints(err error) bool {
	return err != nil && (cerrdefs.IsPermissionDenied(err) || cerrdefs.IsConflict(err)) &&
		strings.Contains(err.Error(), "active endpoints")
}

// IsInUse reports whether a volume removal failed because a container uses it (409).
func IsInUse(err error) bool {
	return err != nil && strings.Contains(err.Error(), "in use")
}

// IsTransient reports whether an error is worth retrying: a connection
// reset mid-call, or a removal the engine is already doing.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(s, "already in progress") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "is being removed")
}
