package transcript

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Limits bound what one extraction writes: an agent's transcript comes from
// inside its sandbox and may be hostile (a sparse file of terabytes, a
// million files, a tree a thousand dirs deep).
type Limits struct {
	// MaxBytes bounds the bytes written, each file counted at its length
	// (a sparse file's length, not the blocks it takes in the volume).
	MaxBytes int64
	// MaxEntries bounds the entries read (files, dirs and the entries
	// that are skipped alike).
	MaxEntries int
	// MaxDepth bounds how many directories deep an entry may sit below
	// the tree's top.
	MaxDepth int
	// Free reports the space available to this user and the size of the
	// file system that holds dir; ok false means it cannot tell (no
	// margin is kept then). Nil asks the operating system.
	Free func(dir string) (avail, size int64, ok bool)
}

// DefaultLimits are the bounds of every rescue: 1 GiB, 100,000 entries, 32
// dirs deep; and the disk's last margin (Margin) is always left free.
var DefaultLimits = Limits{MaxBytes: 1 << 30, MaxEntries: 100_000, MaxDepth: 32}

// Margin is the space an extraction leaves free on the disk it writes to:
// a twentieth of the file system, at most 1 GiB.
func Margin(size int64) int64 { return min(size/20, 1<<30) }

// BoundError says that an extraction stopped at one of its bounds. What was
// written before it is kept (Kept names where, once Save has moved it).
type BoundError struct {
	Reason string
	Kept   string
	Files  int
}

func (b *BoundError) Error() string {
	if b.Kept == "" {
		return b.Reason
	}
	return fmt.Sprintf("%s; kept what was saved before it in %s", b.Reason, b.Kept)
}

// Stats are what an extraction wrote.
type Stats struct {
	Files   int
	Bytes   int64
	Entries int
}

// Extract unpacks a tar whose entries all sit under one top directory into
// root, without that top directory. Only regular files and directories are
// written (files 0600, dirs 0700), through root: nothing is ever written
// outside it and no symlink is followed (links, devices and the like are
// skipped). It stops at the first bound of lim it meets, before writing
// anything of the entry that would pass it, with a *BoundError; what it
// wrote stays.
func Extract(r io.Reader, root *os.Root, lim Limits) (Stats, error) {
	var st Stats
	free := lim.Free
	if free == nil {
		free = diskFree
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, err
		}
		st.Entries++
		if lim.MaxEntries > 0 && st.Entries > lim.MaxEntries {
			return st, &BoundError{Reason: fmt.Sprintf("the transcript has more than the %d entries a rescue saves", lim.MaxEntries), Files: st.Files}
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		top, rest, ok := strings.Cut(name, "/")
		if !ok || top == ".." || rest == "" || rest == "." || rest == ".." || strings.HasPrefix(rest, "../") {
			continue
		}
		if lim.MaxDepth > 0 && strings.Count(rest, "/") >= lim.MaxDepth {
			return st, &BoundError{Reason: fmt.Sprintf("%s is more than the %d directories deep a rescue saves", short(rest), lim.MaxDepth), Files: st.Files}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(rest, 0o700); err != nil {
				return st, err
			}
		case tar.TypeReg, tar.TypeGNUSparse:
			if h.Size < 0 {
				return st, fmt.Errorf("%s: a negative size", short(rest))
			}
			if lim.MaxBytes > 0 && st.Bytes+h.Size > lim.MaxBytes {
				reason := fmt.Sprintf("%s is %s, over the %s a rescue saves", short(rest), Size(h.Size), Size(lim.MaxBytes))
				if st.Bytes > 0 {
					reason = fmt.Sprintf("%s is %s, and with the %s saved before it that is over the %s a rescue saves", short(rest), Size(h.Size), Size(st.Bytes), Size(lim.MaxBytes))
				}
				return st, &BoundError{Reason: reason, Files: st.Files}
			}
			if avail, size, ok := free(root.Name()); ok && avail-h.Size < Margin(size) {
				return st, &BoundError{Reason: fmt.Sprintf("%s is %s, and writing it would leave less than %s free on the state dir's disk (%s free)",
					short(rest), Size(h.Size), Size(Margin(size)), Size(max(avail, 0))), Files: st.Files}
			}
			if dir := path.Dir(rest); dir != "." {
				if err := root.MkdirAll(dir, 0o700); err != nil {
					return st, err
				}
			}
			f, err := root.OpenFile(rest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return st, err
			}
			n, err := io.CopyN(f, tr, h.Size)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			st.Bytes += n
			if err != nil {
				return st, err
			}
			st.Files++
		}
	}
}

// short is a name cut for a message (an agent chooses it).
func short(name string) string {
	const n = 120
	if len(name) <= n {
		return name
	}
	return name[:n] + "…"
}

// Size is a byte count for people: 512 B, 2.0 GiB.
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
