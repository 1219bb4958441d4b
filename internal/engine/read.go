package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
)

// The calls that list and inspect containers and networks read the
// engine's JSON themselves, field by field, and only the fields the
// toolkit uses: the moby client decodes every field of an answer, and one
// it cannot parse (podman's CNI backend gives an internal network's
// gateway as "<nil>") fails the whole call — one odd network made
// bottle-ls and every plan fail. Here a field that cannot be read is
// recorded in the resource's Unread and the resource is still listed;
// fields the toolkit does not use are never parsed.

// Unread is a field of a resource that the engine gave in a form the
// toolkit could not read.
type Unread struct {
	Field string // as the Engine API names it: "Labels", "NetworkSettings.Networks"
	Err   string
}

func (u Unread) String() string { return u.Field + " (" + u.Err + ")" }

// UnreadText says what could not be read, for messages: "Labels (…), Mounts (…)".
func UnreadText(us []Unread) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = u.String()
	}
	return strings.Join(s, ", ")
}

// HasUnread reports whether one of fields is unread.
func HasUnread(us []Unread, fields ...string) bool {
	for _, u := range us {
		for _, f := range fields {
			if u.Field == f {
				return true
			}
		}
	}
	return false
}

// object is one JSON object of an answer, its fields still raw.
type object struct {
	fields map[string]json.RawMessage
	prefix string // the path of this object in the answer, "" at the top
	unread *[]Unread
}

// read decodes field name into v. An absent or null field leaves v as it
// is; one that does not decode is recorded as unread.
func (o object) read(name string, v any) {
	raw, ok := o.fields[name]
	if !ok || string(raw) == "null" {
		return
	}
	if err := json.Unmarshal(raw, v); err != nil {
		*o.unread = append(*o.unread, Unread{Field: o.prefix + name, Err: jsonErr(err)})
	}
}

// sub returns field name as an object (empty when absent or unreadable).
func (o object) sub(name string) object {
	s := object{prefix: o.prefix + name + ".", unread: o.unread}
	o.read(name, &s.fields)
	return s
}

// jsonErr is a decoding error without the type names Go adds.
func jsonErr(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return "a JSON " + te.Value + " where " + te.Type.Kind().String() + " was expected"
	}
	return err.Error()
}

// objects splits an answer that is a JSON array of objects.
func objects(body []byte) ([]map[string]json.RawMessage, error) {
	var out []map[string]json.RawMessage
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("the engine's answer is not a list of objects: %v", err)
	}
	return out, nil
}

func readContainerSummary(f map[string]json.RawMessage) Container {
	var c Container
	o := object{fields: f, unread: &c.Unread}
	o.read("Id", &c.ID)
	var names []string
	o.read("Names", &names)
	if len(names) > 0 {
		c.Name = strings.TrimPrefix(names[0], "/")
		// A linked container has several names; the canonical one has no
		// further slash.
		for _, n := range names {
			if n = strings.TrimPrefix(n, "/"); !strings.Contains(n, "/") {
				c.Name = n
				break
			}
		}
	}
	o.read("Labels", &c.Labels)
	o.read("State", &c.State)
	var created int64
	o.read("Created", &created)
	if created != 0 {
		c.Created = time.Unix(created, 0).UTC()
	}
	var mounts []struct{ Type, Name, Destination string }
	o.read("Mounts", &mounts)
	for _, m := range mounts {
		c.Mounts = append(c.Mounts, Mount{Type: m.Type, Name: m.Name, Destination: m.Destination})
	}
	c.Networks = readEndpoints(o.sub("NetworkSettings"))
	return c
}

// readEndpoints reads NetworkSettings.Networks: network name -> its ID.
func readEndpoints(ns object) map[string]string {
	var eps map[string]*struct{ NetworkID string }
	ns.read("Networks", &eps)
	out := make(map[string]string, len(eps))
	for name, ep := range eps {
		out[name] = ""
		if ep != nil {
			out[name] = ep.NetworkID
		}
	}
	return out
}

func readContainer(f map[string]json.RawMessage) Container {
	var c Container
	o := object{fields: f, unread: &c.Unread}
	o.read("Id", &c.ID)
	o.read("Name", &c.Name)
	c.Name = strings.TrimPrefix(c.Name, "/")
	var created string
	o.read("Created", &created)
	c.Created = parseTime(created)
	cfg := o.sub("Config")
	cfg.read("Labels", &c.Labels)
	var declared map[string]json.RawMessage
	cfg.read("Volumes", &declared)
	c.State = readState(o.sub("State")).State
	c.Networks = readEndpoints(o.sub("NetworkSettings"))
	// A volume the engine made for the container itself is mounted at a
	// path of its Config.Volumes (an image's VOLUME, `-v /path`) or of a
	// --mount of a volume without a source, that nothing else (a bind, a
	// named volume, --volumes-from) took.
	named, unnamed := map[string]bool{}, map[string]bool{}
	hc := o.sub("HostConfig")
	var volumesFrom, binds []string
	var hmounts []struct{ Type, Source, Target string }
	hc.read("VolumesFrom", &volumesFrom)
	hc.read("Binds", &binds)
	hc.read("Mounts", &hmounts)
	for _, b := range binds {
		if parts := strings.Split(b, ":"); len(parts) >= 2 {
			named[path.Clean(parts[1])] = true
		}
	}
	for _, m := range hmounts {
		if m.Type == "volume" && m.Source == "" {
			unnamed[path.Clean(m.Target)] = true
		} else {
			named[path.Clean(m.Target)] = true
		}
	}
	var mounts []struct{ Type, Name, Destination string }
	o.read("Mounts", &mounts)
	for _, m := range mounts {
		mm := Mount{Type: m.Type, Name: m.Name, Destination: m.Destination}
		if dst := path.Clean(m.Destination); mm.Type == "volume" && len(volumesFrom) == 0 && !named[dst] {
			_, decl := declared[m.Destination]
			mm.Anonymous = decl || unnamed[dst]
		}
		c.Mounts = append(c.Mounts, mm)
	}
	// What the anonymous-volume rule reads: without it a volume could look
	// like the container's own.
	if HasUnread(c.Unread, "HostConfig.VolumesFrom", "HostConfig.Binds", "HostConfig.Mounts", "Config.Volumes") {
		for i := range c.Mounts {
			c.Mounts[i].Anonymous = false
		}
	}
	return c
}

func readState(o object) Status {
	var s Status
	o.read("Status", &s.State)
	o.read("ExitCode", &s.ExitCode)
	o.sub("Health").read("Status", &s.Health)
	return s
}

func readNetwork(f map[string]json.RawMessage) Network {
	var n Network
	o := object{fields: f, unread: &n.Unread}
	o.read("Id", &n.ID)
	o.read("Name", &n.Name)
	o.read("Labels", &n.Labels)
	var created string
	o.read("Created", &created)
	n.Created = parseTime(created)
	var cs map[string]json.RawMessage
	o.read("Containers", &cs)
	for id := range cs {
		n.Containers = append(n.Containers, id)
	}
	o.read("Internal", &n.Internal)
	o.read("EnableIPv6", &n.IPv6)
	o.read("Options", &n.Options)
	var cfgs []map[string]json.RawMessage
	o.sub("IPAM").read("Config", &cfgs)
	for i, cf := range cfgs {
		var sn Subnet
		so := object{fields: cf, prefix: fmt.Sprintf("IPAM.Config[%d].", i), unread: &n.Unread}
		so.read("Subnet", &sn.Subnet)
		so.read("Gateway", &sn.Gateway)
		n.Subnets = append(n.Subnets, sn)
	}
	return n
}

// getJSON is one GET of the Engine API at the negotiated version, bounded
// as every call is (call names it in messages), answered with its body.
// A status other than 2xx is an error of the class the moby client gives
// it (IsNotFound for a 404), with the engine's message.
//
// An API version not yet agreed on is agreed on first, within the call's
// bound (a hung engine fails the call, named); the list calls agree on it
// before, so that the concurrent lists of an inventory ping once.
func (e *Client) getJSON(ctx context.Context, call, p string, q url.Values) ([]byte, error) {
	ctx, cancel := e.bound(ctx, call)
	defer cancel()
	if err := e.negotiate(ctx); err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "http", Host: "docker", Path: p, RawQuery: q.Encode()}
	if v := e.c.ClientVersion(); v != "" {
		u.Path = "/v" + strings.TrimPrefix(v, "v") + p
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "bottle")
	resp, err := e.rawClient().Do(req)
	if err != nil {
		return nil, e.transportErr(ctx, err)
	}
	e.sawDate(resp.Header.Get("Date"), time.Now())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, e.transportErr(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, statusErr(resp.StatusCode, body)
	}
	return body, nil
}

// transportErr is a request that got no whole answer: the engine could
// not be asked (or did not answer in time, or the run was interrupted).
func (e *Client) transportErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if aerr := e.answer(ctx, ctx.Err()); IsUnreachable(aerr) {
			return aerr
		}
		return ctx.Err()
	}
	return &UnreachableError{Endpoint: e.ep, Err: err}
}

// statusErr is the engine's error answer as the moby client words and
// classes it.
func statusErr(code int, body []byte) error {
	var m struct{ Message string }
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	msg = "Error response from daemon: " + msg
	switch code {
	case http.StatusNotFound:
		return cerrdefs.ErrNotFound.WithMessage(msg)
	case http.StatusConflict:
		return cerrdefs.ErrConflict.WithMessage(msg)
	case http.StatusForbidden:
		return cerrdefs.ErrPermissionDenied.WithMessage(msg)
	case http.StatusBadRequest:
		return cerrdefs.ErrInvalidArgument.WithMessage(msg)
	}
	return cerrdefs.ErrUnknown.WithMessage(msg)
}

// rawClient is an HTTP client on the moby client's own connection to the
// engine (unix socket, TCP, TLS or whatever dialer it was given); over ssh,
// on the one connection the moby client's calls share (sshConns).
func (e *Client) rawClient() *http.Client {
	e.rawOnce.Do(func() {
		if e.ssh != nil {
			e.raw = &http.Client{Transport: e.ssh} // the shared connection
			return
		}
		dial := e.c.Dialer()
		e.raw = &http.Client{Transport: &http.Transport{
			DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
		}}
	})
	return e.raw
}

// rawHTTP is the Client's lazily made HTTP client for getJSON.
type rawHTTP struct {
	rawOnce sync.Once
	raw     *http.Client
}

// Containers lists every container, stopped ones included.
func (e *Client) Containers(ctx context.Context) ([]Container, error) {
	return e.containers(ctx, url.Values{"all": {"1"}})
}

// ContainersUsing lists the containers attached to a network or mounting a
// volume (see Reaper).
func (e *Client) ContainersUsing(ctx context.Context, kind string, names ...string) ([]Container, error) {
	if kind != "network" && kind != "volume" {
		return nil, fmt.Errorf("ContainersUsing: unknown kind %q", kind)
	}
	filters := map[string]map[string]bool{kind: {}}
	for _, n := range names {
		filters[kind][n] = true
	}
	f, err := json.Marshal(filters)
	if err != nil {
		return nil, err
	}
	return e.containers(ctx, url.Values{"all": {"1"}, "filters": {string(f)}})
}

func (e *Client) containers(ctx context.Context, q url.Values) ([]Container, error) {
	if err := e.negotiate(ctx); err != nil {
		return nil, err
	}
	body, err := e.getJSON(ctx, "GET /containers/json", "/containers/json", q)
	if err != nil {
		return nil, err
	}
	objs, err := objects(body)
	if err != nil {
		return nil, fmt.Errorf("GET /containers/json: %w", err)
	}
	out := make([]Container, 0, len(objs))
	for _, f := range objs {
		out = append(out, readContainerSummary(f))
	}
	return out, nil
}

// Networks lists every network.
func (e *Client) Networks(ctx context.Context) ([]Network, error) {
	if err := e.negotiate(ctx); err != nil {
		return nil, err
	}
	body, err := e.getJSON(ctx, "GET /networks", "/networks", nil)
	if err != nil {
		return nil, err
	}
	objs, err := objects(body)
	if err != nil {
		return nil, fmt.Errorf("GET /networks: %w", err)
	}
	out := make([]Network, 0, len(objs))
	for _, f := range objs {
		n := readNetwork(f)
		n.Containers = nil // a list call's are not reliable (inspect only)
		out = append(out, n)
	}
	return out, nil
}

// InspectContainer returns one container by ID or name.
func (e *Client) InspectContainer(ctx context.Context, idOrName string) (Container, error) {
	f, err := e.inspect(ctx, "containers", idOrName, "/json")
	if err != nil {
		return Container{}, err
	}
	return readContainer(f), nil
}

// InspectNetwork returns one network by ID or name, with its attached
// containers, whether it is internal, its options and its subnets.
func (e *Client) InspectNetwork(ctx context.Context, idOrName string) (Network, error) {
	f, err := e.inspect(ctx, "networks", idOrName, "")
	if err != nil {
		return Network{}, err
	}
	return readNetwork(f), nil
}

// ContainerStatus inspects a container's state.
func (e *Client) ContainerStatus(ctx context.Context, id string) (Status, error) {
	f, err := e.inspect(ctx, "containers", id, "/json")
	if err != nil {
		return Status{}, err
	}
	var unread []Unread
	s := readState(object{fields: f, unread: &unread}.sub("State"))
	if HasUnread(unread, "State", "State.Status") {
		return Status{}, fmt.Errorf("container %s: the engine's answer has no readable state: %s", id, UnreadText(unread))
	}
	return s, nil
}

func (e *Client) inspect(ctx context.Context, kind, idOrName, suffix string) (map[string]json.RawMessage, error) {
	if strings.TrimSpace(idOrName) == "" {
		return nil, cerrdefs.ErrInvalidArgument.WithMessage(kind + " name or ID cannot be empty")
	}
	p := "/" + kind + "/" + url.PathEscape(idOrName) + suffix
	body, err := e.getJSON(ctx, "GET "+p, p, nil)
	if err != nil {
		return nil, err
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, fmt.Errorf("GET %s: the engine's answer is not an object: %v", p, err)
	}
	return f, nil
}
