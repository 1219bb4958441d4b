package reap

import (
	"container/heap"
	"sync"
)

// slots is the --jobs limit: n slots, each freed slot given first to the
// steps that act (a removal, or the rescue before one), in the order they
// asked, then to the re-checks (inspects, listings), those of the line read
// first before the others (then in the order asked).
//
// Acting first, in order, keeps the wait between an item's re-checks and
// its removal what it was when every step queued in the order asked: never
// longer than the removals asked before it. Re-checks by line make the
// items read first finish first: a compose project's network, which the
// engine removes one after another, is asked for as soon as its containers
// are gone instead of after every other project's containers were checked,
// and results, written in input order, wait less.
type slots struct {
	mu    sync.Mutex
	free  int
	wait  waiters
	asked uint64
}

func newSlots(n int) *slots { return &slots{free: n} }

type waiter struct {
	check bool   // a re-check (else a step that acts)
	seq   int    // a re-check's line: its place among the lines read
	order uint64 // when it asked
	index int    // in the heap; -1 once given a slot
	ready chan struct{}
}

// acquire takes a slot for a step that acts (check false) or a re-check
// of the line read seq-th, waiting until one is free and none waits that
// goes before it; false when stop closed first (no slot held then).
func (s *slots) acquire(check bool, seq int, stop <-chan struct{}) bool {
	s.mu.Lock()
	if s.free > 0 && len(s.wait) == 0 {
		s.free--
		s.mu.Unlock()
		return true
	}
	s.asked++
	w := &waiter{check: check, seq: seq, order: s.asked, ready: make(chan struct{})}
	heap.Push(&s.wait, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-stop:
	}
	s.mu.Lock()
	given := w.index < 0
	if !given {
		heap.Remove(&s.wait, w.index)
	}
	s.mu.Unlock()
	if given {
		s.release() // it came with the stop: pass it on
	}
	return false
}

// release frees a slot: to the first waiter, if any.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.wait) == 0 {
		s.free++
		return
	}
	w := heap.Pop(&s.wait).(*waiter)
	close(w.ready)
}

// waiters is a heap of waiters, the one served next on top.
type waiters []*waiter

func (h waiters) Len() int { return len(h) }
func (h waiters) Less(i, j int) bool {
	a, b := h[i], h[j]
	switch {
	case a.check != b.check:
		return !a.check
	case a.check && a.seq != b.seq:
		return a.seq < b.seq
	}
	return a.order < b.order
}
func (h waiters) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waiters) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waiters) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	w.index = -1
	return w
}
