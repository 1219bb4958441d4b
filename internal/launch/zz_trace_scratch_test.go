package launch

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginetest"
)

type tracer struct {
	engine.Launcher
	t0 time.Time
	mu sync.Mutex
	lines []string
}

func (t *tracer) log(what string, s time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf("%6.0f %6.0f  %s", ms(s.Sub(t.t0)), ms(time.Since(t.t0)), what))
}
func (t *tracer) CreateNetwork(ctx context.Context, s engine.NetworkSpec) (string, error) {
	n := time.Now(); defer t.log("net create "+s.Name, n); return t.Launcher.CreateNetwork(ctx, s)
}
func (t *tracer) CreateVolume(ctx context.Context, name string, l map[string]string) error {
	n := time.Now(); defer t.log("vol create", n); return t.Launcher.CreateVolume(ctx, name, l)
}
func (t *tracer) CreateContainer(ctx context.Context, s engine.ContainerSpec) (string, error) {
	n := time.Now(); defer t.log("ctr create "+s.Name, n); return t.Launcher.CreateContainer(ctx, s)
}
func (t *tracer) Connect(ctx context.Context, a, b string, c []string) error {
	n := time.Now(); defer t.log("connect", n); return t.Launcher.Connect(ctx, a, b, c)
}
func (t *tracer) ContainerUser(ctx context.Context, id string) (string, error) {
	n := time.Now(); defer t.log("ctr user", n); return t.Launcher.ContainerUser(ctx, id)
}
func (t *tracer) ImageUser(ctx context.Context, id string) (string, error) {
	n := time.Now(); defer t.log("img user", n); return t.Launcher.ImageUser(ctx, id)
}
func (t *tracer) CopyTo(ctx context.Context, id, d string, r io.Reader) error {
	n := time.Now(); defer t.log("copyto "+id[:6], n); return t.Launcher.CopyTo(ctx, id, d, r)
}
func (t *tracer) CopyFrom(ctx context.Context, id, d string) (io.ReadCloser, error) {
	n := time.Now(); defer t.log("copyfrom "+id[:6]+" "+d, n); return t.Launcher.CopyFrom(ctx, id, d)
}
func (t *tracer) StartContainer(ctx context.Context, id string) error {
	n := time.Now(); defer t.log("start "+id[:6], n); return t.Launcher.StartContainer(ctx, id)
}
func (t *tracer) Wait(ctx context.Context, id string) (int, error) {
	n := time.Now(); defer t.log("wait "+id[:6], n); return t.Launcher.Wait(ctx, id)
}
func (t *tracer) Kill(ctx context.Context, id, s string) error {
	n := time.Now(); defer t.log("kill "+id[:6], n); return t.Launcher.Kill(ctx, id, s)
}
func (t *tracer) Exec(ctx context.Context, id string, c []string) (int, string, error) {
	n := time.Now(); defer t.log("exec "+id[:6], n); return t.Launcher.Exec(ctx, id, c)
}
func (t *tracer) ContainerStatus(ctx context.Context, id string) (engine.Status, error) {
	n := time.Now(); defer t.log("status "+id[:6], n); return t.Launcher.ContainerStatus(ctx, id)
}
func (t *tracer) InspectNetwork(ctx context.Context, id string) (engine.Network, error) {
	n := time.Now(); defer t.log("net inspect", n); return t.Launcher.InspectNetwork(ctx, id)
}
func (t *tracer) RemoveContainer(ctx context.Context, id string) error {
	n := time.Now(); defer t.log("ctr rm "+id[:6], n); return t.Launcher.RemoveContainer(ctx, id)
}
func (t *tracer) RemoveNetwork(ctx context.Context, id string) error {
	n := time.Now(); defer t.log("net rm "+id[:6], n); return t.Launcher.RemoveNetwork(ctx, id)
}
func (t *tracer) RemoveVolume(ctx context.Context, id string) error {
	n := time.Now(); defer t.log("vol rm", n); return t.Launcher.RemoveVolume(ctx, id)
}
func (t *tracer) ImageID(ctx context.Context, id string) (string, error) {
	n := time.Now(); defer t.log("image id "+id, n); return t.Launcher.ImageID(ctx, id)
}
func (t *tracer) Containers(ctx context.Context) ([]engine.Container, error) {
	n := time.Now(); defer t.log("list ctrs", n); return t.Launcher.Containers(ctx)
}

func TestZZTrace(t *testing.T) {
	if os.Getenv("BOTTLE_TRACE") != "1" {
		t.Skip()
	}
	token := enginetest.Token()
	prefix := enginetest.Prefix(token)
	defer enginetest.Purge(token)
	eng, err := engine.Dial(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	spec := Spec{Agent: "bench", Image: "bottle-test/agent", Command: []string{"sleep"}, Sidecar: Sidecar{Image: "bottle-test/pipelock", Allow: []string{"example.test"}}}
	spec.Defaults()
	for i := 0; i < 3; i++ {
		tr := &tracer{Launcher: eng, t0: time.Now()}
		opt := Options{Prefix: prefix, StateRoot: filepath.Join(t.TempDir(), "state"), Version: "bench", Now: time.Now}
		bt, err := Start(context.Background(), tr, spec, opt)
		up := time.Since(tr.t0)
		if err != nil {
			t.Fatal(err)
		}
		tr.lines = append(tr.lines, fmt.Sprintf("UP %.0f", ms(up)))
		tr.t0 = time.Now()
		if err := bt.teardown(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		tr.lines = append(tr.lines, fmt.Sprintf("DOWN %.0f", ms(time.Since(tr.t0))))
		bt.lock.Release()
		for _, l := range tr.lines {
			fmt.Println(l)
		}
		fmt.Println("----")
	}
}
