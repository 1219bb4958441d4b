package transcript

import "golang.org/x/sys/unix"

// diskFree is the space available to this user and the size of the file
// system that holds dir.
func diskFree(dir string) (avail, size int64, ok bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, false
	}
	bs := int64(st.Bsize)
	return int64(st.Bavail) * bs, int64(st.Blocks) * bs, true
}
