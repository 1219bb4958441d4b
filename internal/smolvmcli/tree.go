package smolvmcli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strings"
	"time"
)

// Tree is a tar of a directory in a machine, streamed out of `smolvm
// machine exec -i --name N -- tar -c -f - -C <parent> <base>` (binary-safe
// and streamed; a plain exec buffers and caps its output at 11 MiB). Read
// it, Close it, then Wait for how the command ended.
type Tree struct {
	out     io.ReadCloser
	cmd     *exec.Cmd
	stderr  bytes.Buffer
	cancel  context.CancelFunc
	machine string
	dir     string
}

// ReadTree starts the tar of dir (an absolute path) in the running machine
// name, with env (see Cmd), within timeout (0: ctx's only). The tar's
// entries are under one top directory, dir's base name, as the engine's
// archive API gives a container's.
func (c *CLI) ReadTree(ctx context.Context, env []string, name, dir string, timeout time.Duration) (*Tree, error) {
	if !c.Present() {
		return nil, ErrMissing
	}
	cancel := context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	t := &Tree{cancel: cancel, machine: name, dir: dir}
	t.cmd = c.Cmd(ctx, env, "machine", "exec", "-i", "--name", name, "--",
		"tar", "-c", "-f", "-", "-C", path.Dir(dir), path.Base(dir))
	t.cmd.Stderr = &t.stderr
	out, err := t.cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := t.cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	t.out = out
	return t, nil
}

func (t *Tree) Read(p []byte) (int, error) { return t.out.Read(p) }

// Close reads what is left of the stream (its end-of-archive padding, at
// most 1 MiB) before closing it, so the tar that writes it ends with its
// own exit code, not a broken pipe. Cancelling ReadTree's ctx kills the
// command, which ends the drain.
func (t *Tree) Close() error {
	_, _ = io.CopyN(io.Discard, t.out, 1<<20)
	return t.out.Close()
}

// Wait waits for the command once the stream is closed and says how it
// failed: "vm not found" is a *NotFoundError.
func (t *Tree) Wait() error {
	defer t.cancel()
	err := t.cmd.Wait()
	if err == nil {
		return nil
	}
	msg := oneLine(strings.TrimPrefix(strings.TrimSpace(t.stderr.String()), "Error: "))
	if strings.Contains(msg, "vm not found: "+t.machine) {
		return &NotFoundError{Name: t.machine}
	}
	return fmt.Errorf("tar of %s in machine %s: %v: %s", t.dir, t.machine, err, msg)
}
