// Package retry runs an operation again while its error says that another
// try may succeed (a connection reset, a removal the engine is still
// doing), waiting between tries and giving up at once when the context is
// cancelled: a run that was interrupted never sleeps on.
package retry

import (
	"context"
	"time"
)

// Policy is how often to try again and how long to wait before each try.
// The zero Policy never retries.
type Policy struct {
	// Delays are the waits before the 1st, 2nd, … retry; their number is
	// the number of retries.
	Delays []time.Duration
}

// Backoff is a policy of n retries waiting first, then twice as long each
// time, never more than most.
func Backoff(first, most time.Duration, n int) Policy {
	p := Policy{Delays: make([]time.Duration, n)}
	d := first
	for i := range p.Delays {
		p.Delays[i] = min(d, most)
		d *= 2
	}
	return p
}

// Immediate is a policy of n retries without waiting, for tests.
func Immediate(n int) Policy { return Policy{Delays: make([]time.Duration, n)} }

// Tries is the most times Do calls its function: once, plus the retries.
func (p Policy) Tries() int { return len(p.Delays) + 1 }

// Do calls f, and again while its error passes again and retries remain,
// waiting the policy's delay before each retry. It returns f's last error
// (nil on success). When ctx is done it stops waiting and returns f's last
// error at once; it never calls f after ctx is done, although f itself may
// be called with a ctx that is (the first try always happens).
func Do(ctx context.Context, p Policy, again func(error) bool, f func() error) error {
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || !again(err) || attempt >= len(p.Delays) {
			return err
		}
		if !Sleep(ctx, p.Delays[attempt]) {
			return err
		}
	}
}

// Sleep waits d, or less when ctx is done first; it reports whether it
// waited the whole of d with ctx still live.
func Sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
