package enginefake

import (
	"fmt"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/claude-bottle/bottle/internal/engine"
)

// FakeSubnet is the subnet (and FakeGateway its gateway) of every network
// WireLauncher makes: TEST-NET-1, an address no host holds.
const (
	FakeSubnet  = "192.0.2.0/24"
	FakeGateway = "192.0.2.1"
)

// WireLauncher makes f answer, from w, the calls a launch makes on its
// own, as the engine does:
//   - creates add to w: a network as asked (internal, and with the bridge
//     option that keeps the host off it when NoHostAddress), on
//     FakeSubnet; a volume (a second create of the same name is the same
//     volume); a container in state "created" (a name taken is a
//     conflict), with its aliases on its network in w.Aliases;
//   - lists and InspectNetwork answer from w, and RemoveContainer,
//     RemoveNetwork and RemoveVolume take from it (not found when absent);
//   - Connect records the aliases, Disconnect drops them; StartContainer
//     makes a container "running"; ContainerStatus answers its state; Exec
//     runs (exit 0, no output) in a running one; Kill stops a running one
//     ("exited", code 0) and Wait answers its exit code at once;
//   - ImageID finds every image (ID "sha256:"+ref); ImageUser answers
//     w.ImageUser; ContainerUser the User a container was created with,
//     else w.ImageUser.
//
// A call about a container w does not hold is not found. What a launch
// does not call on its own (CopyFrom, Logs, Attach, Resize,
// InspectContainer, InspectVolume, RemoveContainerOnly) stays unset.
func (w *World) WireLauncher(f *Engine) {
	w.mu.Lock()
	if w.Aliases == nil {
		w.Aliases = map[string][]string{}
	}
	if w.users == nil {
		w.users = map[string]string{}
	}
	w.mu.Unlock()
	w.wireLists(f)
	f.OnInspectNetwork = w.inspectNetwork
	f.OnRemoveContainer = w.removeContainer
	w.wireRemoves(f)
	f.OnCreateNetwork = w.createNetwork
	f.OnCreateVolume = w.createVolume
	f.OnCreateContainer = w.createContainer
	f.OnConnect = func(network, id string, aliases []string) error {
		return w.withContainer(id, func(*engine.Container) error {
			w.Aliases[id+"@"+network] = aliases
			return nil
		})
	}
	f.OnDisconnect = func(network, id string) error {
		return w.withContainer(id, func(*engine.Container) error {
			delete(w.Aliases, id+"@"+network)
			return nil
		})
	}
	f.OnStartContainer = func(id string) error {
		return w.withContainer(id, func(c *engine.Container) error {
			c.State = "running"
			return nil
		})
	}
	f.OnContainerStatus = func(id string) (st engine.Status, err error) {
		err = w.withContainer(id, func(c *engine.Container) error {
			st = engine.Status{State: c.State}
			return nil
		})
		return st, err
	}
	f.OnExec = func(id string, _ []string) (int, string, error) {
		err := w.withContainer(id, func(c *engine.Container) error { return running(c) })
		if err != nil {
			return -1, "", err
		}
		return 0, "", nil
	}
	f.OnKill = func(id, _ string) error {
		return w.withContainer(id, func(c *engine.Container) error {
			if err := running(c); err != nil {
				return err
			}
			c.State = "exited"
			return nil
		})
	}
	f.OnWait = func(id string) (int, error) {
		return 0, w.withContainer(id, func(*engine.Container) error { return nil })
	}
	f.OnImageID = func(ref string) (string, error) { return "sha256:" + ref, nil }
	f.OnImageUser = func(string) (string, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.ImageUser, nil
	}
	f.OnContainerUser = func(id string) (user string, err error) {
		err = w.withContainer(id, func(*engine.Container) error {
			user = w.users[id]
			if user == "" {
				user = w.ImageUser
			}
			return nil
		})
		return user, err
	}
	f.OnCopyTo = func(id, _ string, _ []byte) error {
		return w.withContainer(id, func(*engine.Container) error { return nil })
	}
}

func (w *World) createNetwork(spec engine.NetworkSpec) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, taken := find(w.Networks, spec.Name, func(n engine.Network) string { return n.Name }); taken {
		return "", fmt.Errorf("network with name %s already exists: %w", spec.Name, cerrdefs.ErrConflict)
	}
	n := engine.Network{ID: w.newID(), Name: spec.Name, Labels: spec.Labels, Internal: spec.Internal,
		Subnets: []engine.Subnet{{Subnet: FakeSubnet, Gateway: FakeGateway}}}
	if spec.NoHostAddress {
		n.Options = map[string]string{engine.InhibitIPv4: "true"}
	}
	w.add(n)
	return n.ID, nil
}

func (w *World) createVolume(name string, labels map[string]string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.Volumes[name]; !ok {
		w.add(engine.Volume{Name: name, Labels: labels})
	}
	return nil
}

func (w *World) createContainer(spec engine.ContainerSpec) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, taken := find(w.Containers, spec.Name, func(c engine.Container) string { return c.Name }); taken {
		return "", fmt.Errorf("Conflict. The container name %q is already in use: %w", "/"+spec.Name, cerrdefs.ErrConflict)
	}
	c := engine.Container{ID: w.newID(), Name: spec.Name, Labels: spec.Labels, State: "created"}
	w.add(c)
	w.users[c.ID] = spec.User
	w.Aliases[c.ID+"@"+spec.Network] = spec.Aliases
	return c.ID, nil
}

// withContainer runs do on the container of that ID under w's lock and
// keeps what it changed; not found when w does not hold it.
func (w *World) withContainer(id string, do func(*engine.Container) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.Containers[id]
	if !ok {
		return NotFound("container: " + id)
	}
	if err := do(&c); err != nil {
		return err
	}
	w.Containers[id] = c
	return nil
}

func running(c *engine.Container) error {
	if c.State != "running" {
		return fmt.Errorf("container %s is not running: %w", c.ID, cerrdefs.ErrConflict)
	}
	return nil
}
