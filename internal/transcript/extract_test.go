package transcript

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one tar entry of a test archive.
type entry struct {
	name string
	typ  byte
	body string
	size int64 // the header's size when body is not given whole
}

// archive writes entries as a tar; a file whose size exceeds its body is
// cut short (the reader then fails midway).
func archive(entries ...entry) *bytes.Buffer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		size := int64(len(e.body))
		if e.size > 0 {
			size = e.size
		}
		if e.typ != tar.TypeReg {
			size = 0
		}
		tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typ, Size: size, Mode: 0o644, Linkname: "/etc/passwd"})
		tw.Write([]byte(e.body))
	}
	tw.Flush() // no Close: a cut-short file leaves the writer in error
	return &buf
}

func openRoot(t *testing.T) (*os.Root, string) {
	t.Helper()
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, dir
}

var noDisk = func(string) (int64, int64, bool) { return 0, 0, false }

// Only regular files and dirs are written, never outside the root, never
// through a link: the entries that try are skipped.
func TestExtract(t *testing.T) {
	root, dir := openRoot(t)
	st, err := Extract(archive(
		entry{name: "projects/", typ: tar.TypeDir},
		entry{name: "projects/a/t.jsonl", typ: tar.TypeReg, body: "line"},
		entry{name: "projects/../../evil", typ: tar.TypeReg, body: "x"},
		entry{name: "/projects/../../../abs", typ: tar.TypeReg, body: "x"},
		entry{name: "projects/link", typ: tar.TypeSymlink},
		entry{name: "projects/hard", typ: tar.TypeLink},
		entry{name: "projects/link/under", typ: tar.TypeReg, body: "y"},
		entry{name: "projects/fifo", typ: tar.TypeFifo},
	), root, Limits{Free: noDisk})
	if err != nil || st.Files != 2 || st.Bytes != 5 || st.Entries != 8 {
		t.Fatalf("Extract = %+v, %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a", "t.jsonl")); string(b) != "line" {
		t.Errorf("t.jsonl = %q", b)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "link")); err != nil || !fi.IsDir() {
		t.Errorf("link: %v, %v: want the real dir a later file made", fi, err)
	}
	for _, p := range []string{filepath.Join(filepath.Dir(dir), "evil"), filepath.Join(filepath.Dir(filepath.Dir(dir)), "evil"), filepath.Join(dir, "hard"), filepath.Join(dir, "fifo")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "a", "t.jsonl")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// Past a bound the extraction stops before writing anything of the entry
// that would pass it; what came before stays.
func TestExtractBounds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lim     Limits
		entries []entry
		files   int
		reason  string
	}{
		{"bytes: a file's length counts, before its body is read", Limits{MaxBytes: 100},
			[]entry{{name: "p/a", typ: tar.TypeReg, body: "ok"}, {name: "p/sparse", typ: tar.TypeReg, size: 1 << 40}},
			1, "sparse is 1.0 TiB, and with the 2 B saved before it that is over the 100 B a rescue saves"},
		{"bytes: one file alone", Limits{MaxBytes: 100},
			[]entry{{name: "p/big", typ: tar.TypeReg, size: 200}},
			0, "big is 200 B, over the 100 B a rescue saves"},
		{"entries", Limits{MaxEntries: 3},
			[]entry{{name: "p/", typ: tar.TypeDir}, {name: "p/a", typ: tar.TypeReg, body: "1"}, {name: "p/b", typ: tar.TypeReg, body: "2"}, {name: "p/c", typ: tar.TypeReg, body: "3"}},
			2, "the transcript has more than the 3 entries a rescue saves"},
		{"depth", Limits{MaxDepth: 2},
			[]entry{{name: "p/a/b", typ: tar.TypeReg, body: "1"}, {name: "p/a/b/c/d", typ: tar.TypeReg, body: "2"}},
			1, "a/b/c/d is more than the 2 directories deep a rescue saves"},
		{"the disk's last margin", Limits{Free: func(string) (int64, int64, bool) { return 30 << 20, 100 << 20, true }},
			[]entry{{name: "p/a", typ: tar.TypeReg, body: "1"}, {name: "p/b", typ: tar.TypeReg, size: 26 << 20}},
			1, "b is 26.0 MiB, and writing it would leave less than 5.0 MiB free on the state dir's disk (30.0 MiB free)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.lim.Free == nil {
				tc.lim.Free = noDisk
			}
			root, dir := openRoot(t)
			st, err := Extract(archive(tc.entries...), root, tc.lim)
			var be *BoundError
			if !errors.As(err, &be) || be.Error() != tc.reason {
				t.Fatalf("err = %v, want a BoundError %q", err, tc.reason)
			}
			if st.Files != tc.files || be.Files != tc.files {
				t.Errorf("files %d (%d in the error), want %d", st.Files, be.Files, tc.files)
			}
			n := 0
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					n++
				}
				return nil
			})
			if n != tc.files {
				t.Errorf("%d files on disk, want %d", n, tc.files)
			}
		})
	}
}

// An archive cut short fails the extraction (not a bound).
func TestExtractCutShort(t *testing.T) {
	root, _ := openRoot(t)
	_, err := Extract(archive(entry{name: "p/a", typ: tar.TypeReg, body: "abc", size: 10}), root, Limits{Free: noDisk})
	var be *BoundError
	if err == nil || errors.As(err, &be) {
		t.Fatalf("err = %v, want a read error", err)
	}
}

func TestMarginAndSize(t *testing.T) {
	if m := Margin(64 << 20); m != 64<<20/20 {
		t.Errorf("Margin(64 MiB) = %d", m)
	}
	if m := Margin(1 << 40); m != 1<<30 {
		t.Errorf("Margin(1 TiB) = %d, want 1 GiB", m)
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 2 << 30: "2.0 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
	if s := short(strings.Repeat("x", 300)); len(s) > 130 {
		t.Errorf("short: %d bytes", len(s))
	}
}
