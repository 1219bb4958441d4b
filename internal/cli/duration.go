package cli

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/claude-bottle/bottle/internal/exitcode"
)

// Duration is a flag value that reads Go durations ("90m", "36h") and also
// days and weeks ("7d", "2w", "1d12h"), as people write ages.
type Duration time.Duration

// UnmarshalFlag implements go-flags' Unmarshaler.
func (d *Duration) UnmarshalFlag(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a non-negative duration with optional d and w units.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	var total time.Duration
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		if i := strings.Index(s, u.suffix); i >= 0 {
			n, err := strconv.ParseFloat(s[:i], 64)
			// NaN and ±Inf parse as floats; a duration past ~292 years
			// does not fit.
			if err != nil || !(n >= 0) || n*float64(u.unit) >= float64(math.MaxInt64-total) {
				return 0, exitcode.Usagef("bad duration %q: use a number and a unit, e.g. 90m, 36h, 7d, 2w", orig)
			}
			total += time.Duration(n * float64(u.unit))
			s = s[i+1:]
		}
	}
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > math.MaxInt64-total {
			return 0, exitcode.Usagef("bad duration %q: use a number and a unit, e.g. 90m, 36h, 7d, 2w", orig)
		}
		total += d
	}
	if orig == "" {
		return 0, exitcode.Usagef("bad duration \"\": use a number and a unit, e.g. 90m, 36h, 7d, 2w")
	}
	return total, nil
}
