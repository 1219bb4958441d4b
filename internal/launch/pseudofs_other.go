//go:build !linux

package launch

import "os"

// pseudoFS: only Linux has proc and sysfs mounted where a spec may point.
func pseudoFS(*os.File) bool { return false }
