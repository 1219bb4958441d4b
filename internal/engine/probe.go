package engine

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Healthcheck is a container's healthcheck: Test is exec'd in the
// container every Interval; StartInterval is used during StartPeriod by
// engines that know it (API 1.44+), older ones ignore it.
type Healthcheck struct {
	Test                                          []string // without the leading "CMD"
	Interval, Timeout, StartPeriod, StartInterval time.Duration
	Retries                                       int
}

func (h *Healthcheck) config() *container.HealthConfig {
	if h == nil {
		return nil
	}
	return &container.HealthConfig{
		Test: append([]string{"CMD"}, h.Test...), Interval: h.Interval, Timeout: h.Timeout,
		StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
	}
}

// Status is a container's state as inspect reports it.
type Status struct {
	State    string // created, running, exited, dead, ...
	ExitCode int
	Health   string // "" without a healthcheck; starting, healthy, unhealthy
}

// Prober looks into a starting container: its state, a command run in it,
// its last log lines, and an image's ID.
type Prober interface {
	ContainerStatus(ctx context.Context, id string) (Status, error)
	// Exec runs cmd in a running container and returns its exit code and
	// output (stdout and stderr together, at most 64 KiB).
	Exec(ctx context.Context, id string, cmd []string) (int, string, error)
	// Logs returns the container's last tail lines of output.
	Logs(ctx context.Context, id string, tail int) (string, error)
	// ImageID returns the ID (sha256:...) of a local image.
	ImageID(ctx context.Context, ref string) (string, error)
}

var _ Prober = (*Client)(nil)

// Exec runs cmd in the container and waits for it.
func (e *Client) Exec(ctx context.Context, id string, cmd []string) (int, string, error) {
	ctx, cancel := e.bound(ctx, "POST /containers/"+id+"/exec")
	defer cancel()
	cr, err := e.c.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return -1, "", e.answer(ctx, err)
	}
	sc, err := e.streams(ctx)
	if err != nil {
		return -1, "", err
	}
	att, err := sc.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, "", e.answer(ctx, err)
	}
	// The output is read until the command ends: the bound's end closes
	// the connection, so a command that never ends cannot hang this.
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	var out limited
	_, err = stdcopy.StdCopy(&out, &out, att.Reader)
	att.Close()
	if err != nil {
		return -1, out.String(), e.answer(ctx, err)
	}
	ins, err := e.c.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
	if err != nil {
		return -1, out.String(), e.answer(ctx, err)
	}
	return ins.ExitCode, out.String(), nil
}

// Logs returns the last tail lines of the container's stdout and stderr.
func (e *Client) Logs(ctx context.Context, id string, tail int) (string, error) {
	ctx, cancel := e.bound(ctx, "GET /containers/"+id+"/logs")
	defer cancel()
	rc, err := e.c.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(tail)})
	if err != nil {
		return "", e.answer(ctx, err)
	}
	defer rc.Close()
	var out limited
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		// A TTY container's log is not multiplexed.
		return out.String(), nil
	}
	return out.String(), nil
}

// ImageID returns a local image's ID.
func (e *Client) ImageID(ctx context.Context, ref string) (string, error) {
	ctx, cancel := e.bound(ctx, "GET /images/"+ref+"/json")
	defer cancel()
	res, err := e.c.ImageInspect(ctx, ref)
	if err != nil {
		return "", e.answer(ctx, err)
	}
	return res.ID, nil
}

// limited keeps the first 64 KiB written to it.
type limited struct{ bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if room := 64<<10 - l.Len(); room > 0 {
		l.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

var _ io.Writer = (*limited)(nil)
