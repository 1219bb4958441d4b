//go:build !linux

package statedir

import "testing"

// bindMount: bind mounts (the red team's hole 5) are a Linux thing; the
// tests that need one run on Linux only.
func bindMount(t *testing.T, src, dst string) {
	t.Helper()
	t.Skip("needs a Linux bind mount (the red team's hole 5 is tested with a real mount on Linux)")
}
