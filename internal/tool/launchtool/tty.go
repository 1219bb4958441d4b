package launchtool

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/launch"
)

type fder interface{ Fd() uintptr }

// terminal puts the launcher's terminal in raw mode (keys go to the agent
// as typed, Ctrl-C included), keeps the agent's terminal size in step with
// it (SIGWINCH), and returns what restores it.
func terminal(ctx context.Context, env cli.Env, eng engine.Launcher, b *launch.Launched) func() {
	in, ok := env.Stdin.(fder)
	if !ok {
		return func() {}
	}
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return func() {}
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	_ = unix.IoctlSetTermios(fd, ioctlSetTermios, &raw)

	resize := func() {
		if ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ); err == nil && ws.Row > 0 {
			_ = eng.Resize(ctx, b.AgentID(), uint(ws.Row), uint(ws.Col))
		}
	}
	resize()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				resize()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
		_ = unix.IoctlSetTermios(fd, ioctlSetTermios, old)
	}
}

// keepTerminal saves the terminal's settings and returns what restores
// them: smolvm's exec -t puts the terminal in raw mode itself (and keeps
// the guest's window size in step), but leaves it raw when it is killed.
func keepTerminal(env cli.Env) func() {
	in, ok := env.Stdin.(fder)
	if !ok {
		return func() {}
	}
	fd := int(in.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return func() {}
	}
	return func() { _ = unix.IoctlSetTermios(fd, ioctlSetTermios, old) }
}
