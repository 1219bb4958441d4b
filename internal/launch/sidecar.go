package launch

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// SidecarProbe is pipelock's own healthcheck command: a GET of /health on
// its listener (pipelock internal/cli/runtime/healthcheck.go), which
// defaults to 127.0.0.1:8888 and so needs --addr for any other port.
func SidecarProbe(port int) []string {
	return sidecarProbeAt("127.0.0.1:" + strconv.Itoa(port))
}

// sidecarProbeAt is that check against another address (host:port).
func sidecarProbeAt(addr string) []string {
	return []string{"/pipelock", "healthcheck", "--addr", addr}
}

// SidecarHealthcheck is the sidecar container's healthcheck: the image's
// own (interval 10s, timeout 3s, start period 5s, 3 retries) at the
// sidecar's port. A shorter interval would cost the engine an exec every
// second for the bottle's whole life; start-up is checked by waitSidecar.
func SidecarHealthcheck(port int) *engine.Healthcheck {
	return &engine.Healthcheck{
		Test: SidecarProbe(port), Interval: 10 * time.Second, Timeout: 3 * time.Second,
		StartPeriod: 5 * time.Second, StartInterval: 500 * time.Millisecond, Retries: 3,
	}
}

// How long a sidecar may take to answer, and how often it is asked.
var (
	SidecarStartTimeout = 30 * time.Second
	sidecarProbeEvery   = 150 * time.Millisecond
)

// sidecarLogLines is how many of a failed sidecar's last log lines a
// launch error shows.
const sidecarLogLines = 15

// waitSidecar returns once the started sidecar answers on its port: its
// own healthcheck command, run in it through the engine, succeeds. A
// sidecar that exits meanwhile, an image without /pipelock, or no answer
// within SidecarStartTimeout fails the launch with the sidecar's last log
// lines.
func (b *Launched) waitSidecar(ctx context.Context) error {
	id, port := b.serviceID(bottle.ServiceSidecar), b.spec.Sidecar.Port
	fail := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if logs, err := b.eng.Logs(lctx, id, sidecarLogLines); err == nil && strings.TrimSpace(logs) != "" {
			msg += "; its last log lines: " + oneLine(logs)
		}
		return &StepError{"starting the sidecar", fmt.Errorf("%s", msg)}
	}
	deadline := time.Now().Add(SidecarStartTimeout)
	last := ""
	for {
		st, err := b.eng.ContainerStatus(ctx, id)
		if err != nil {
			return &StepError{"checking the sidecar", err}
		}
		if st.State != "running" {
			return fail("the sidecar (%s) %s with code %d during start-up", b.spec.Sidecar.Image, st.State, st.ExitCode)
		}
		code, out, err := b.eng.Exec(ctx, id, SidecarProbe(port))
		if err != nil || code != 0 {
			// it may have stopped between the two calls (an exec in a
			// stopped container fails as a command that cannot run)
			if st, serr := b.eng.ContainerStatus(ctx, id); serr == nil && st.State != "running" {
				return fail("the sidecar (%s) %s with code %d during start-up", b.spec.Sidecar.Image, st.State, st.ExitCode)
			}
		}
		switch {
		case err == nil && code == 0:
			return nil
		case err == nil && (code == 126 || code == 127):
			return fail("the sidecar image %s has no runnable /pipelock (bottle-launch checks it with /pipelock healthcheck, as pipelock's image does): %s", b.spec.Sidecar.Image, strings.TrimSpace(out))
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			last = err.Error()
		default:
			last = strings.TrimSpace(out)
		}
		if time.Now().After(deadline) {
			return fail("the sidecar did not answer on port %d within %s (last check: %s)", port, SidecarStartTimeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sidecarProbeEvery):
		}
	}
}

// oneLine joins log lines with " | ": an error is one line.
func oneLine(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " | ")
}
