package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

var (
	transient = errors.New("connection reset")
	final     = errors.New("no such container")
)

func isTransient(err error) bool { return errors.Is(err, transient) }

func TestDoRetriesWhatPasses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		errs  []error // f's answers, in order; nil after the last
		p     Policy
		calls int
		want  error
	}{
		{"success at once", nil, Immediate(3), 1, nil},
		{"a final error is not retried", []error{final}, Immediate(3), 1, final},
		{"transient then success", []error{transient, transient}, Immediate(3), 3, nil},
		{"transient then final", []error{transient, final}, Immediate(3), 2, final},
		{"retries run out", []error{transient, transient, transient, transient, transient}, Immediate(3), 4, transient},
		{"the zero policy tries once", []error{transient}, Policy{}, 1, transient},
	} {
		calls := 0
		err := Do(context.Background(), tc.p, isTransient, func() error {
			calls++
			if calls <= len(tc.errs) {
				return tc.errs[calls-1]
			}
			return nil
		})
		if calls != tc.calls || !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: %d calls, err %v; want %d, %v", tc.name, calls, err, tc.calls, tc.want)
		}
	}
}

// TestDoHonoursCancellation: a cancelled run stops waiting at once and
// makes no further call.
func TestDoHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	start := time.Now()
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	err := Do(ctx, Backoff(time.Hour, time.Hour, 5), isTransient, func() error { calls++; return transient })
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Do slept through the cancellation: %v", took)
	}
	if calls != 1 || !errors.Is(err, transient) {
		t.Errorf("%d calls, err %v; want 1 call and its error", calls, err)
	}

	calls = 0
	err = Do(ctx, Immediate(5), isTransient, func() error { calls++; return transient })
	if calls != 1 || !errors.Is(err, transient) {
		t.Errorf("already cancelled: %d calls, err %v; want the one try and its error", calls, err)
	}
}

func TestBackoff(t *testing.T) {
	p := Backoff(50*time.Millisecond, 300*time.Millisecond, 5)
	want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}
	if len(p.Delays) != len(want) || p.Tries() != 6 {
		t.Fatalf("%v", p.Delays)
	}
	for i := range want {
		if p.Delays[i] != want[i] {
			t.Errorf("delay %d = %v, want %v", i, p.Delays[i], want[i])
		}
	}
}
