package engine

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// A copy out of or into a container streams for as long as the tree is
// large, so it is not bounded as a whole: its first byte must come within
// the engine timeout, and so must each next one (an idle timeout). An
// engine that answers a copy and then stops sending fails it after the
// timeout, as a silent engine fails any call.

// watchdog cancels a call's context when it is armed for longer than d
// without being disarmed: the time a copy waits on the engine.
type watchdog struct {
	mu    sync.Mutex
	d     time.Duration
	timer *time.Timer
	fire  func()
}

func newWatchdog(d time.Duration, fire func()) *watchdog {
	w := &watchdog{d: d, fire: fire}
	w.timer = time.AfterFunc(d, fire) // armed: the first byte is awaited
	return w
}

// arm starts the wait for the engine again.
func (w *watchdog) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer.Reset(w.d)
}

// disarm stops it: the copy is not waiting on the engine.
func (w *watchdog) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer.Stop()
}

// watched is a copy's body: only the time spent waiting inside Read
// counts, so a slow consumer never times the engine out.
type watched struct {
	rc     io.ReadCloser
	w      *watchdog
	ctx    context.Context
	cancel context.CancelCauseFunc
	e      *Client
}

func (b *watched) Read(p []byte) (int, error) {
	b.w.arm()
	n, err := b.rc.Read(p)
	b.w.disarm()
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.e.answer(b.ctx, err)
	}
	return n, err
}

func (b *watched) Close() error {
	b.w.disarm()
	b.cancel(nil) // a read in flight ends now
	return b.rc.Close()
}

// CopyFrom returns a tar of path inside the container. The answer's first
// byte, and each next one, must come within the engine timeout (a
// NoAnswerError otherwise, naming the call); the reader must be closed.
func (e *Client) CopyFrom(ctx context.Context, containerID, path string) (io.ReadCloser, error) {
	if err := e.negotiate(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	na := &NoAnswerError{Endpoint: e.ep, Timeout: e.ep.Timeout, Call: "GET /containers/" + containerID + "/archive"}
	w := newWatchdog(e.ep.Timeout, func() { cancel(na) })
	sc, err := e.streams(ctx)
	if err != nil {
		w.disarm()
		cancel(nil)
		return nil, err
	}
	res, err := sc.CopyFromContainer(ctx, containerID, client.CopyFromContainerOptions{SourcePath: path})
	w.disarm()
	if err != nil {
		err = e.answer(ctx, err)
		cancel(nil)
		return nil, err
	}
	return &watched{rc: res.Content, w: w, ctx: ctx, cancel: cancel, e: e}, nil
}

// feeding is a copy's request body: each read of it is the engine taking
// more, so the wait between two of them (and, after the last, for the
// answer) is the engine's.
type feeding struct {
	r io.Reader
	w *watchdog
}

func (f *feeding) Read(p []byte) (int, error) {
	f.w.disarm()
	n, err := f.r.Read(p)
	f.w.arm()
	return n, err
}

// CopyTo extracts tar at dir inside the container. CopyUIDGID is not set:
// with it the engine looks the container's user up in the host's passwd
// (Docker 20.10: "getent unable to find entry"); the headers' uid and gid
// are applied as they are instead. The engine must take each next part of
// the tar, and answer after the last, within the engine timeout.
func (e *Client) CopyTo(ctx context.Context, containerID, dir string, tar io.Reader) error {
	sc, err := e.streams(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	na := &NoAnswerError{Endpoint: e.ep, Timeout: e.ep.Timeout, Call: "PUT /containers/" + containerID + "/archive"}
	w := newWatchdog(e.ep.Timeout, func() { cancel(na) })
	defer w.disarm()
	_, err = sc.CopyToContainer(ctx, containerID, client.CopyToContainerOptions{DestinationPath: dir, Content: &feeding{r: tar, w: w}})
	return e.answer(ctx, err)
}
