//go:build !linux

package e2e

import "github.com/rogpeppe/go-internal/testscript"

// mount-tmpfs is Linux-only; the scripts that use it are guarded with
// [!root] skip and [!linux] skip.
func cmdMountTmpfs(ts *testscript.TestScript, neg bool, args []string) {
	ts.Fatalf("mount-tmpfs: tmpfs mounts are Linux-only; guard the script with [!linux] skip")
}
