package launch

import (
	"os"

	"golang.org/x/sys/unix"
)

// pseudoFS reports whether f is on proc or sysfs, wherever they are mounted.
func pseudoFS(f *os.File) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Type == unix.PROC_SUPER_MAGIC || st.Type == unix.SYSFS_MAGIC
}
