//go:build linux

package statedir

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// bindMount bind-mounts src on dst (a real mount: only root may) and
// unmounts it when the test ends, whatever happened.
func bindMount(t *testing.T, src, dst string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount (the red team's hole 5 is tested with a real mount)")
	}
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dst, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
}
