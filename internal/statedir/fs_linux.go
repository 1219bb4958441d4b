package statedir

import "golang.org/x/sys/unix"

// fsID is the file system a directory is on: its device, and its mount
// (a bind mount of a dir of the same file system has the same device but
// another mount ID; 0 where the kernel does not say).
type fsID struct{ dev, mnt uint64 }

func fsOf(fd int, st *unix.Stat_t) fsID {
	id := fsID{dev: uint64(st.Dev)}
	var sx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &sx); err == nil && sx.Mask&unix.STATX_MNT_ID != 0 {
		id.mnt = sx.Mnt_id
	}
	return id
}
