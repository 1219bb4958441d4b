package enginetest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLockSaysWhoHoldsIt: the holder writes its pid and command line into
// the lock file; a waiter says at once that it waits and for whom, and
// says so again when it got the lock; a released lock names nobody.
func TestLockSaysWhoHoldsIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine-tests.lock")
	var first bytes.Buffer
	release, err := lockFile(path, &first)
	if err != nil {
		t.Fatal(err)
	}
	if first.Len() != 0 {
		t.Errorf("a free lock was waited for: %q", first.String())
	}
	me := fmt.Sprintf("pid %d since ", os.Getpid())
	if h := Holder(path); !strings.HasPrefix(h, me) || !strings.Contains(h, os.Args[0]) {
		t.Errorf("Holder = %q; want %q… naming %s", h, me, os.Args[0])
	}

	var wait syncBuffer
	got := make(chan func(), 1)
	go func() {
		r, err := lockFile(path, &wait)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(wait.String(), "waiting") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if w := wait.String(); !strings.Contains(w, "waiting for the engine-test lock "+path+", held by "+me) {
		t.Errorf("waiter said %q; want it to name the holder", w)
	}
	select {
	case <-got:
		t.Fatal("the lock was taken twice")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	r := <-got
	if !strings.Contains(wait.String(), "got the engine-test lock after") {
		t.Errorf("waiter did not say it got the lock: %q", wait.String())
	}
	r()
	if h := Holder(path); h != "a process that does not say who it is" {
		t.Errorf("after release Holder = %q", h)
	}
}
