//go:build !linux

package e2e

import "github.com/rogpeppe/go-internal/testscript"

// bind-mount is Linux-only (syscall.Mount with MS_BIND); the scripts that
// use it are guarded with [!root] skip and [!linux] skip.
func cmdBindMount(ts *testscript.TestScript, neg bool, args []string) {
	ts.Fatalf("bind-mount: bind mounts are Linux-only; guard the script with [!linux] skip")
}
