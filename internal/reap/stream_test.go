package reap

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// lineGen makes n plan lines lazily, counting how many it has handed out.
// It gives at most one line per Read, and a bufio.Reader reads only when its
// buffer has no full line, so the count is the lines the reaper really read.
type lineGen struct {
	lines   []string // the first lines, then copies of the last
	n, made int
	made64  atomic.Int64
	buf     []byte
}

func (g *lineGen) Read(p []byte) (int, error) {
	if len(g.buf) == 0 {
		if g.made == g.n {
			return 0, io.EOF
		}
		l := g.lines[min(g.made, len(g.lines)-1)]
		g.made++
		g.made64.Store(int64(g.made))
		g.buf = []byte(l + "\n")
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

func itemLine(t *testing.T, it bottle.Item) string {
	b, err := json.Marshal(it)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Memory is bounded by what is in flight: while the first removal hangs,
// the reaper reads no more than its window ahead; then every line is
// answered once, in input order.
func TestStreamsWithinWindow(t *testing.T) {
	e := newEnv(t)
	e.opt.Jobs, e.opt.Window = 1, 8
	first := e.w.strayContainer("s-0")
	gone := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindContainer, Name: prefix + "g-1", ID: newID(), Slug: "g-1"}
	release := make(chan struct{})
	remove := e.f.OnRemoveContainerOnly
	e.f.OnRemoveContainerOnly = func(id string) error {
		if id == first.ID {
			<-release
		}
		return remove(id)
	}
	gen := &lineGen{lines: []string{itemLine(t, first), itemLine(t, gone)}, n: 2000}
	done := make(chan struct{})
	var lines []int
	var sum Summary
	go func() {
		defer close(done)
		var err error
		sum, err = Run(context.Background(), NewSource(gen), e.opt, func(r Record) error {
			lines = append(lines, r.Result.Line)
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	if got := gen.made64.Load(); got > int64(e.opt.Window)+2 {
		t.Errorf("read %d lines while the first was in flight; want at most the window (%d) and the one being read", got, e.opt.Window)
	}
	close(release)
	<-done
	if len(lines) != gen.n {
		t.Fatalf("%d results for %d lines", len(lines), gen.n)
	}
	for i, l := range lines {
		if l != i+1 {
			t.Fatalf("result %d is line %d", i+1, l)
		}
	}
	if sum.Counts[bottle.Removed] != 1 || sum.Counts[bottle.Gone] != gen.n-1 {
		t.Errorf("summary %s", sum)
	}
}

// A reader that goes away (EPIPE) stops the writing and the starting of new
// work, but a removal in flight finishes; the error is returned.
func TestBrokenOutputFinishesInFlight(t *testing.T) {
	e := newEnv(t)
	e.opt.Jobs = 2
	var items []any
	var cs []bottle.Item
	for i := range 6 {
		c := e.w.strayContainer(fmt.Sprintf("s-%d", i))
		cs = append(cs, c)
		items = append(items, c)
	}
	e.add(items...)
	// The first container goes once another removal started; that one is
	// still in flight when the output breaks, and finishes after.
	broke := make(chan struct{})
	var slowStarted, slowDone, late atomic.Int32
	remove := e.f.OnRemoveContainerOnly
	e.f.OnRemoveContainerOnly = func(id string) error {
		select {
		case <-broke:
			late.Add(1) // started after the output broke
		default:
		}
		if id != cs[0].ID {
			// (only one: each engine call takes a slot of its own, and c0
			// must keep one)
			if slowStarted.Add(1) == 1 {
				defer slowDone.Add(1)
				<-broke
				time.Sleep(30 * time.Millisecond)
			}
		} else {
			for slowStarted.Load() == 0 { // the other slot is taken first
				time.Sleep(time.Millisecond)
			}
		}
		return remove(id)
	}
	var once sync.Once
	sum, err := Run(context.Background(), NewSource(strings.NewReader(string(e.input))), e.opt, func(r Record) error {
		// (the slow removal learns of it a moment after the reaper does)
		once.Do(func() { time.AfterFunc(10*time.Millisecond, func() { close(broke) }) })
		return fmt.Errorf("write /dev/stdout: %w", syscall.EPIPE)
	})
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("err = %v, want the broken pipe", err)
	}
	if slowDone.Load() != 1 {
		t.Errorf("Run returned before the removal in flight when the output broke finished")
	}
	// What started finished (removed); nothing started after the output broke.
	got := e.f.Calls("rm-container")
	if late.Load() != 0 || sum.Counts[bottle.Removed] != len(got) {
		t.Errorf("%d removals started after the output broke; %d started, %d removed; want none late, all finished: %s", late.Load(), len(got), sum.Counts[bottle.Removed], sum)
	}
	if sum.Interrupted {
		t.Errorf("summary %s", sum)
	}
}

// A signal while a removal hangs (an engine that never answers): the run
// ends within the grace period; the hung item is failed (its outcome is
// unknown), the rest skipped, every line answered.
func TestGraceEndsAHungRemoval(t *testing.T) {
	e := newEnv(t)
	e.opt.Jobs, e.opt.Grace = 1, 150*time.Millisecond
	hang := make(chan struct{})
	defer close(hang)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.f.OnRemoveContainerOnly = func(string) error {
		cancel()
		<-hang
		return nil
	}
	e.add(e.w.strayContainer("s-1"), e.w.strayContainer("s-2"), e.w.strayNetwork("n-1"), e.statedir("o-1", false))
	start := time.Now()
	res, sum := e.run(ctx)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %s after the signal; want about the grace period", d)
	}
	// one of the two containers was in flight (which one is the scheduler's)
	inFlight := 0
	for _, r := range res {
		if r.Status == bottle.Failed && r.Error == ErrInFlight {
			inFlight++
			continue
		}
		status(t, r, bottle.Skipped, ReasonInterrupted)
	}
	if inFlight != 1 {
		t.Errorf("%d results in flight, want 1", inFlight)
	}
	if !sum.Interrupted {
		t.Error("not marked interrupted")
	}
}
