package statedir

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/exitcode"
)

// checkout writes a source checkout at dir: .git, a Dockerfile, go.mod
// and source (the red team's auth-proxy and web-react).
func checkout(t *testing.T, dir string) {
	t.Helper()
	write(t, filepath.Join(dir, ".git", "HEAD"), 20)
	write(t, filepath.Join(dir, "Dockerfile"), 30)
	write(t, filepath.Join(dir, "go.mod"), 30)
	write(t, filepath.Join(dir, "main.go"), 100)
	write(t, filepath.Join(dir, "internal", "proxy", "proxy.go"), 100)
}

// Red team (issue 15, finding 3): a dir is a bottle's state dir only when
// everything at its top is something a bottle writes. "proxy" and "react"
// are five letters, and a Dockerfile is a bottle file, but .git, go.mod and
// source are not.
func TestLooksAllowList(t *testing.T) {
	root := t.TempDir()
	for _, slug := range []string{"auth-proxy", "web-react", "api-redis"} {
		checkout(t, filepath.Join(root, slug))
	}
	write(t, filepath.Join(root, "only-gitxx", ".git", "HEAD"), 1)
	write(t, filepath.Join(root, "gomod-aaaa1", "Dockerfile"), 1)
	write(t, filepath.Join(root, "gomod-aaaa1", "go.mod"), 1)
	for _, slug := range []string{"auth-proxy", "web-react", "api-redis", "only-gitxx", "gomod-aaaa1"} {
		if why := Looks(filepath.Join(root, slug)); why == "" {
			t.Errorf("%s looks like a state dir", slug)
		}
	}
	if why := Looks(filepath.Join(root, "auth-proxy")); why != `it holds ".git" (and 3 more), which no bottle writes there` {
		t.Errorf("auth-proxy: %q", why)
	}

	// The original tool's layout, bottle-launch's, and every name either
	// writes, together.
	write(t, filepath.Join(root, "orig-aaaa1", "transcript.jsonl"), 10)
	write(t, filepath.Join(root, "orig-aaaa1", "Dockerfile"), 10)
	all := filepath.Join(root, "all-bbbb2")
	for _, n := range append(slices.Clone(bottle.StateFiles), "Dockerfile.rebuilt") {
		write(t, filepath.Join(all, n), 1)
	}
	write(t, filepath.Join(all, bottle.TranscriptTemp+"0123abcd", "x"), 1)
	write(t, filepath.Join(root, "new-cccc3", "transcript", "-workspace", "s.jsonl"), 1)
	mkdir(t, filepath.Join(root, "empty-dddd4"))
	for _, slug := range []string{"orig-aaaa1", "all-bbbb2", "new-cccc3", "empty-dddd4"} {
		if why := Looks(filepath.Join(root, slug)); why != "" {
			t.Errorf("%s: %s", slug, why)
		}
	}
	// A file a bottle writes only nested is no top-level one; a name
	// merely starting like a transcript is none either.
	for name, file := range map[string]string{"a-aaaa5": "transcript.go", "b-aaaa6": "notes.txt", "c-aaaa7": ".DS_Store.txt", "d-aaaa8": "bottle.json.bak"} {
		write(t, filepath.Join(root, name, bottle.MetaFile), 1)
		write(t, filepath.Join(root, name, file), 1)
		if why := Looks(filepath.Join(root, name)); !strings.Contains(why, file) {
			t.Errorf("%s with %s: %q", name, file, why)
		}
	}
}

// A file manager's litter (.DS_Store, Thumbs.db, desktop.ini,
// .directory, and AppleDouble files of what a bottle writes) leaves a
// state dir one, and a state root one; litter is known by its exact name
// as a regular file: an AppleDouble file of a person's file, a name like
// litter, a dir named like it keep the dir from being one.
func TestLooksLitter(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "mac-aaaa1")
	for _, n := range []string{bottle.MetaFile, ".DS_Store", "Thumbs.db", "desktop.ini", ".directory", "._bottle.json", "._.DS_Store", "._transcript", "._Dockerfile.rebuilt"} {
		write(t, filepath.Join(dir, n), 1)
	}
	write(t, filepath.Join(dir, "transcript", "s.jsonl"), 1)
	if why := Looks(dir); why != "" {
		t.Errorf("a state dir with litter: %s", why)
	}
	for i, n := range []string{"._notes.txt", "._", ".ds_store", "thumbs.db", "Desktop.ini", "Thumbs.db.bak", "DS_Store", ".DS_Store ", "._._notes.txt"} {
		d := filepath.Join(root, fmt.Sprintf("not-bbbb%d", i))
		write(t, filepath.Join(d, bottle.MetaFile), 1)
		write(t, filepath.Join(d, n), 1)
		if why := Looks(d); !strings.Contains(why, fmt.Sprintf("%q", n)) {
			t.Errorf("%q: %q", n, why)
		}
	}
	// a directory named like litter is none
	d := filepath.Join(root, "dsdir-ccccc")
	write(t, filepath.Join(d, ".DS_Store", "thesis.tex"), 1)
	if why := Looks(d); !strings.Contains(why, `".DS_Store"`) {
		t.Errorf("a .DS_Store dir: %q", why)
	}

	// The root: litter files, and AppleDouble files of the marker, of
	// litter and of state dirs, make no entry and no reason to refuse it.
	clean := t.TempDir()
	write(t, filepath.Join(clean, "a-aaaa1", "transcript.jsonl"), 3)
	for _, n := range []string{".DS_Store", "Thumbs.db", "desktop.ini", ".directory", "._a-aaaa1", "._.DS_Store", "._" + bottle.RootMarker} {
		write(t, filepath.Join(clean, n), 1)
	}
	if why, err := RootLooks(clean); why != "" || err != nil {
		t.Errorf("a root with litter: %q, %v", why, err)
	}
	entries, err := Scan(clean)
	if err != nil || len(entries) != 1 || entries[0].Slug != "a-aaaa1" || entries[0].NotState != "" {
		t.Errorf("scan of a root with litter: %+v, %v", entries, err)
	}
	if err := PrepareRoot(clean, false); err != nil || !Marked(clean) {
		t.Errorf("preparing a root with litter: %v", err)
	}
	for _, n := range []string{"._notes.txt", "thumbs.db"} {
		r := t.TempDir()
		write(t, filepath.Join(r, "a-aaaa1", "transcript.jsonl"), 3)
		write(t, filepath.Join(r, n), 1)
		if why, _ := RootLooks(r); !strings.Contains(why, n) {
			t.Errorf("a root with %s: %q", n, why)
		}
	}
	r := t.TempDir()
	write(t, filepath.Join(r, "Thumbs.db", "x"), 1)
	if why, _ := RootLooks(r); !strings.Contains(why, "Thumbs.db") {
		t.Errorf("a root with a Thumbs.db dir: %q", why)
	}
}

// Red team (issue 15, finding 3): BOTTLE_STATE_DIR=~/src holding two
// checkouts and scratch/, and a root holding one checkout: the cleanup
// tools refuse both, marked or not, default or not.
func TestCheckRootCheckouts(t *testing.T) {
	src := t.TempDir()
	checkout(t, filepath.Join(src, "auth-proxy"))
	checkout(t, filepath.Join(src, "web-react"))
	write(t, filepath.Join(src, "scratch", "notes.md"), 10)
	one := t.TempDir()
	checkout(t, filepath.Join(one, "api-redis"))
	for name, root := range map[string]string{"checkouts": src, "one checkout": one} {
		err := CheckRoot(root, false)
		if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "has no "+bottle.RootMarker+" and is not the default") {
			t.Errorf("%s: %v", name, err)
		}
		if err := CheckMarked(root, false); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%s, listing: %v", name, err)
		}
		// As the default root it is still no state root: nothing in it
		// looks like a state dir.
		if err := CheckRoot(root, true); exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "entries do not look like bottle state") {
			t.Errorf("%s as the default root: %v", name, err)
		}
		entries, _ := Scan(root)
		for _, e := range entries {
			if e.NotState == "" {
				t.Errorf("%s: %s looks like a state dir", name, e.Slug)
			}
		}
	}
	// The default root needs no marker; another root needs one; a
	// symlink named like the marker is none.
	ok := t.TempDir()
	write(t, filepath.Join(ok, "a-aaaa1", "transcript.jsonl"), 3)
	if err := CheckRoot(ok, true); err != nil {
		t.Errorf("default root: %v", err)
	}
	if err := CheckRoot(ok, false); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("unmarked root: %v", err)
	}
	if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), filepath.Join(ok, bottle.RootMarker)); err != nil {
		t.Fatal(err)
	}
	if err := CheckRoot(ok, false); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("marker a symlink: %v", err)
	}
	os.Remove(filepath.Join(ok, bottle.RootMarker))
	if err := Mark(ok); err != nil {
		t.Fatal(err)
	}
	if err := CheckRoot(ok, false); err != nil {
		t.Errorf("marked root: %v", err)
	}
}

// The launcher's side: a root is made and marked, an empty dir or one of
// state dirs is marked, the default root is marked whatever it holds, and
// a dir of checkouts is refused — and stays refused, with nothing written
// into it, however often a launch tries.
func TestPrepareRoot(t *testing.T) {
	base := t.TempDir()
	made := filepath.Join(base, "a", "state")
	if err := PrepareRoot(made, false); err != nil || !Marked(made) {
		t.Fatalf("missing root: %v, marked %v", err, Marked(made))
	}
	if fi, _ := os.Stat(made); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v", fi.Mode())
	}
	data, _ := os.ReadFile(filepath.Join(made, bottle.RootMarker))
	if !strings.Contains(string(data), "bottle state root") {
		t.Errorf("marker says %q", data)
	}
	empty := t.TempDir()
	if err := PrepareRoot(empty, false); err != nil || !Marked(empty) {
		t.Errorf("empty root: %v", err)
	}
	legacy := t.TempDir()
	write(t, filepath.Join(legacy, "a-aaaa1", "transcript.jsonl"), 3)
	write(t, filepath.Join(legacy, "b-bbbb2", "Dockerfile"), 3)
	mkdir(t, filepath.Join(legacy, ".reaping-c-cccc3-0123"))
	if err := PrepareRoot(legacy, false); err != nil || !Marked(legacy) {
		t.Errorf("a root of state dirs: %v", err)
	}
	def := t.TempDir()
	write(t, filepath.Join(def, "notes.txt"), 3)
	if err := PrepareRoot(def, true); err != nil || !Marked(def) {
		t.Errorf("the default root: %v", err)
	}

	src := t.TempDir()
	checkout(t, filepath.Join(src, "auth-proxy"))
	checkout(t, filepath.Join(src, "web-react"))
	write(t, filepath.Join(src, "scratch", "notes.md"), 10)
	one := t.TempDir()
	checkout(t, filepath.Join(one, "api-redis"))
	dotgit := t.TempDir()
	write(t, filepath.Join(dotgit, "a-aaaa1", "transcript.jsonl"), 3)
	write(t, filepath.Join(dotgit, ".git", "HEAD"), 3)
	for name, root := range map[string]string{"checkouts": src, "one checkout": one, "a root with .git": dotgit} {
		before, _ := os.ReadDir(root)
		for range 2 {
			err := PrepareRoot(root, false)
			if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "is no state root: it has no "+bottle.RootMarker) {
				t.Errorf("%s: %v", name, err)
			}
		}
		after, _ := os.ReadDir(root)
		if len(after) != len(before) || Marked(root) {
			t.Errorf("%s: %d entries before, %d after", name, len(before), len(after))
		}
		if err := CheckRoot(root, false); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%s after two launches: %v", name, err)
		}
	}
	file := filepath.Join(base, "file")
	write(t, file, 1)
	if err := PrepareRoot(file, false); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("a file: %v", err)
	}
}
