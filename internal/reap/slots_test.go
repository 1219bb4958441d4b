package reap

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// queued waits until n acquirers wait for a slot of s.
func queued(t *testing.T, s *slots, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		got := len(s.wait)
		s.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("never %d waiters", n)
}

// A freed slot goes to the steps that act, in the order they asked, then
// to the re-checks of the line read first; among one line's, to the one
// that asked first.
func TestSlotsActFirstThenFirstLineRead(t *testing.T) {
	s := newSlots(1)
	if !s.acquire(false, 0, nil) {
		t.Fatal("a free slot was refused")
	}
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for i, w := range []struct {
		check bool
		seq   int
		name  string
	}{{true, 7, "check 7"}, {true, 3, "check 3a"}, {false, 9, "act 9"}, {true, 5, "check 5"}, {false, 1, "act 1"}, {true, 3, "check 3b"}} {
		wg.Go(func() {
			if s.acquire(w.check, w.seq, nil) {
				mu.Lock()
				got = append(got, w.name)
				mu.Unlock()
				s.release()
			}
		})
		queued(t, s, i+1)
	}
	s.release()
	wg.Wait()
	if want := []string{"act 9", "act 1", "check 3a", "check 3b", "check 5", "check 7"}; !slices.Equal(got, want) {
		t.Errorf("slots given in order %v, want %v", got, want)
	}
	if s.free != 1 {
		t.Errorf("%d slots free at the end, want 1", s.free)
	}
}

// A waiter that is stopped holds no slot and keeps none from the others.
func TestSlotsStopped(t *testing.T) {
	s := newSlots(1)
	s.acquire(false, 0, nil)
	stop := make(chan struct{})
	done := make(chan bool)
	go func() { done <- s.acquire(true, 1, stop) }()
	queued(t, s, 1)
	close(stop)
	if <-done {
		t.Fatal("a stopped waiter got a slot")
	}
	queued(t, s, 0)
	s.release()
	if !s.acquire(true, 2, nil) {
		t.Fatal("the slot was lost")
	}
	closed := make(chan struct{})
	close(closed)
	if s.acquire(false, 3, closed) {
		t.Error("a stopped waiter got a slot while none was free")
	}
}
