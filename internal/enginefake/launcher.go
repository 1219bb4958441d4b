package enginefake

import (
	"bytes"
	"context"
	"io"
	"strings"

	"github.com/claude-bottle/bottle/internal/engine"
)

// The launcher's calls: what engine.Launcher has beyond the listing,
// inspect, remove and copy-from calls.

var _ engine.Launcher = (*Engine)(nil)

// Copy is an archive copied into a container.
type Copy struct {
	ID, Dir string
	Data    []byte
}

// Copies are the archives CopyTo was given, in call order (failed copies
// too).
func (f *Engine) Copies() []Copy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Copy(nil), f.copies...)
}

func (f *Engine) CreateNetwork(_ context.Context, spec engine.NetworkSpec) (string, error) {
	if err := f.ask("CreateNetwork", "create-network", spec.Name, f.OnCreateNetwork == nil); err != nil {
		return "", err
	}
	return f.OnCreateNetwork(spec)
}

func (f *Engine) CreateVolume(_ context.Context, name string, labels map[string]string) error {
	if err := f.ask("CreateVolume", "create-volume", name, f.OnCreateVolume == nil); err != nil {
		return err
	}
	return f.OnCreateVolume(name, labels)
}

// Connect is logged as "connect ID@NETWORK".
func (f *Engine) Connect(_ context.Context, network, id string, aliases []string) error {
	if err := f.ask("Connect", "connect", id+"@"+network, f.OnConnect == nil); err != nil {
		return err
	}
	return f.OnConnect(network, id, aliases)
}

// Disconnect is logged as "disconnect ID@NETWORK".
func (f *Engine) Disconnect(_ context.Context, network, id string) error {
	if err := f.ask("Disconnect", "disconnect", id+"@"+network, f.OnDisconnect == nil); err != nil {
		return err
	}
	return f.OnDisconnect(network, id)
}

func (f *Engine) ContainerUser(_ context.Context, id string) (string, error) {
	if err := f.ask("ContainerUser", "container-user", id, f.OnContainerUser == nil); err != nil {
		return "", err
	}
	return f.OnContainerUser(id)
}

func (f *Engine) ImageUser(_ context.Context, ref string) (string, error) {
	if err := f.ask("ImageUser", "image-user", ref, f.OnImageUser == nil); err != nil {
		return "", err
	}
	return f.OnImageUser(ref)
}

func (f *Engine) ImageID(_ context.Context, ref string) (string, error) {
	if err := f.ask("ImageID", "image-id", ref, f.OnImageID == nil); err != nil {
		return "", err
	}
	return f.OnImageID(ref)
}

// CopyTo reads the archive whole, as the engine takes it, and keeps it
// (Copies) before it asks. It is logged as "copy-to ID:DIR".
func (f *Engine) CopyTo(_ context.Context, id, dir string, tar io.Reader) error {
	data, err := io.ReadAll(tar)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.copies = append(f.copies, Copy{ID: id, Dir: dir, Data: data})
	f.mu.Unlock()
	if err := f.ask("CopyTo", "copy-to", id+":"+dir, f.OnCopyTo == nil); err != nil {
		return err
	}
	return f.OnCopyTo(id, dir, bytes.Clone(data))
}

func (f *Engine) StartContainer(_ context.Context, id string) error {
	if err := f.ask("StartContainer", "start", id, f.OnStartContainer == nil); err != nil {
		return err
	}
	return f.OnStartContainer(id)
}

func (f *Engine) ContainerStatus(_ context.Context, id string) (engine.Status, error) {
	if err := f.ask("ContainerStatus", "status", id, f.OnContainerStatus == nil); err != nil {
		return engine.Status{}, err
	}
	return f.OnContainerStatus(id)
}

// Exec is logged as "exec ID CMD…", the command's words joined by spaces.
func (f *Engine) Exec(_ context.Context, id string, cmd []string) (int, string, error) {
	if err := f.ask("Exec", "exec", strings.Join(append([]string{id}, cmd...), " "), f.OnExec == nil); err != nil {
		return -1, "", err
	}
	return f.OnExec(id, cmd)
}

func (f *Engine) Logs(_ context.Context, id string, tail int) (string, error) {
	if err := f.ask("Logs", "logs", id, f.OnLogs == nil); err != nil {
		return "", err
	}
	return f.OnLogs(id, tail)
}

func (f *Engine) Attach(_ context.Context, id string, withStdin, tty bool) (*engine.Attachment, error) {
	if err := f.ask("Attach", "attach", id, f.OnAttach == nil); err != nil {
		return nil, err
	}
	return f.OnAttach(id, withStdin, tty)
}

func (f *Engine) Wait(_ context.Context, id string) (int, error) {
	if err := f.ask("Wait", "wait", id, f.OnWait == nil); err != nil {
		return -1, err
	}
	return f.OnWait(id)
}

// Kill is logged as "kill ID SIGNAL".
func (f *Engine) Kill(_ context.Context, id, signal string) error {
	if err := f.ask("Kill", "kill", id+" "+signal, f.OnKill == nil); err != nil {
		return err
	}
	return f.OnKill(id, signal)
}

func (f *Engine) Resize(_ context.Context, id string, height, width uint) error {
	if err := f.ask("Resize", "resize", id, f.OnResize == nil); err != nil {
		return err
	}
	return f.OnResize(id, height, width)
}
