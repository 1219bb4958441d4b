//go:build !linux

package statedir

import "golang.org/x/sys/unix"

// fsID is the file system a directory is on: its device.
type fsID struct{ dev uint64 }

func fsOf(_ int, st *unix.Stat_t) fsID { return fsID{dev: uint64(st.Dev)} }
