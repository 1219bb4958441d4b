package statedir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// A child process of this test binary holds a dir's lock while the test
// runs: Locked must see another process's flock, not our own.
func TestMain(m *testing.M) {
	if dir := os.Getenv("STATEDIR_TEST_HOLD"); dir != "" {
		l, err := Acquire(dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
		_ = l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdLock locks dir from another process until the test ends.
func holdLock(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STATEDIR_TEST_HOLD="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "locked\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("lock holder: %q", line)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
}

func write(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("x", size)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	root := t.TempDir()
	old := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	newest := old.Add(48 * time.Hour)

	write(t, filepath.Join(root, "full-aaaa1", "transcript.jsonl"), 100)
	write(t, filepath.Join(root, "full-aaaa1", "Dockerfile"), 20)
	write(t, filepath.Join(root, "full-aaaa1", "transcript", "deeper", "blob"), 1000)
	write(t, filepath.Join(root, "tonly-bbbb2", "transcript", "part-1.jsonl"), 5)
	write(t, filepath.Join(root, "donly-cccc3", "Dockerfile.rebuilt"), 7)
	write(t, filepath.Join(root, "donly-cccc3", bottle.MetaFile), 2)
	write(t, filepath.Join(root, "kept-dddd4", bottle.PreserveFile), 0)
	write(t, filepath.Join(root, "kept-dddd4", bottle.LockFile), 0)
	write(t, filepath.Join(root, "deepkept-hhhh8", "compose.json"), 0)
	write(t, filepath.Join(root, "deepkept-hhhh8", "transcript", "b", bottle.PreserveFile), 0)
	mkdir(t, filepath.Join(root, "empty-eeee5"))
	write(t, filepath.Join(root, "notes.txt"), 3)
	write(t, filepath.Join(root, ".reaping-x-123", "transcript.jsonl"), 3)
	write(t, filepath.Join(root, "thesis", "chapter1.tex"), 3)
	write(t, filepath.Join(root, "src-aaaa1", "main.go"), 3)
	if err := os.Symlink(filepath.Join(root, "full-aaaa1"), filepath.Join(root, "link-ffff6")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo-gggg7"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The newest change inside the tree is the dir's modification time.
	_ = filepath.Walk(filepath.Join(root, "full-aaaa1"), func(p string, _ os.FileInfo, _ error) error {
		return os.Chtimes(p, old, old)
	})
	if err := os.Chtimes(filepath.Join(root, "full-aaaa1", "transcript", "deeper", "blob"), newest, newest); err != nil {
		t.Fatal(err)
	}

	entries, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Path != filepath.Join(root, e.Slug) {
			t.Errorf("%s: path %s", e.Slug, e.Path)
		}
		got = append(got, fmt.Sprintf("%s %s size=%d t=%v d=%v r=%v p=%v m=%v %s", e.Slug, e.Type, e.SizeBytes, e.Transcript, e.Dockerfile, e.Resumable("bt-", Engines{}, false), e.Preserved, e.Meta, e.NotState))
	}
	want := []string{
		".reaping-x-123 aside size=0 t=false d=false r=false p=false m=false ",
		"deepkept-hhhh8 dir size=0 t=true d=false r=false p=true m=false ",
		"donly-cccc3 dir size=9 t=false d=true r=false p=false m=true ",
		"empty-eeee5 dir size=0 t=false d=false r=false p=false m=false ",
		"fifo-gggg7 other size=0 t=false d=false r=false p=false m=false ",
		"full-aaaa1 dir size=1120 t=true d=true r=false p=false m=false ",
		"kept-dddd4 dir size=0 t=false d=false r=false p=true m=false ",
		"link-ffff6 symlink size=0 t=false d=false r=false p=false m=false ",
		"notes.txt file size=0 t=false d=false r=false p=false m=false ",
		`src-aaaa1 dir size=0 t=false d=false r=false p=false m=false it holds "main.go", which no bottle writes there`,
		`thesis dir size=0 t=false d=false r=false p=false m=false its name "thesis" is not a slug's <agent>-<5 letters or digits>`,
		"tonly-bbbb2 dir size=5 t=true d=false r=false p=false m=false ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("scan:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range entries {
		if e.Slug == "full-aaaa1" && !e.Modified.Equal(newest) {
			t.Errorf("modified %v, want the newest file's %v", e.Modified, newest)
		}
	}

	e := entries[5] // after .reaping-x-123, deepkept, donly, empty, fifo
	it := e.Item(true)
	if it.Kind != bottle.KindStateDir || it.Name != "full-aaaa1" || it.Slug != "full-aaaa1" || *it.SizeBytes != 1120 ||
		!*it.Transcript || !*it.Dockerfile || !*it.Resumable || !it.Modified.Equal(newest) || it.Path != e.Path {
		t.Fatalf("item %+v", it)
	}
	// The item records the dir's identity and newest change.
	var st syscall.Stat_t
	if err := syscall.Lstat(e.Path, &st); err != nil {
		t.Fatal(err)
	}
	if it.Device == nil || it.Inode == nil || *it.Device != uint64(st.Dev) || *it.Inode != st.Ino || it.Changed == nil || it.Changed.Before(newest) {
		t.Fatalf("identity: device %v inode %v changed %v; want %d %d", it.Device, it.Inode, it.Changed, st.Dev, st.Ino)
	}
}

func TestScanMissingRoot(t *testing.T) {
	entries, err := Scan(filepath.Join(t.TempDir(), "none"))
	if err != nil || len(entries) != 0 {
		t.Fatalf("%v %v", entries, err)
	}
}

func TestScanUnreadableRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads a mode-000 dir; a file where the root should be is
		// an error for everyone.
		f := filepath.Join(t.TempDir(), "file")
		write(t, f, 1)
		if _, err := Scan(f); err == nil {
			t.Fatal("a file as the root must be an error")
		}
		return
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(root, 0o755)
	if _, err := Scan(root); err == nil {
		t.Fatal("an unreadable root must be an error")
	}
}

func TestLocked(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a-aaaa1")
	mkdir(t, dir)
	if Locked(dir) {
		t.Fatal("no lock file: not locked")
	}
	// Our own lock taken and released leaves an unlocked dir.
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if Locked(dir) {
		t.Fatal("released: not locked")
	}
	holdLock(t, dir)
	if !Locked(dir) {
		t.Fatal("another process holds the lock: Locked must say so")
	}
	if _, err := Acquire(dir); err == nil || !strings.Contains(err.Error(), "locked by another bottle-launch") {
		t.Fatalf("Acquire while held: %v", err)
	}
	entries, err := Scan(root)
	if err != nil || len(entries) != 1 || !entries[0].Locked {
		t.Fatalf("scan: %+v %v", entries, err)
	}
	// A symlinked lock file is never followed.
	d2 := filepath.Join(root, "b-bbbb2")
	mkdir(t, d2)
	if err := os.Symlink(filepath.Join(dir, bottle.LockFile), filepath.Join(d2, bottle.LockFile)); err != nil {
		t.Fatal(err)
	}
	if Locked(d2) {
		t.Fatal("a lock file that is a symlink does not lock")
	}
}

func notLive(string) (bool, error) { return false, nil }

// planned is the dir root/slug as a plan records it now, made with
// --include-transcripts (the dirs of these tests hold transcripts:
// TestConversationKept tests the rule).
func planned(root, slug string) Planned {
	p := filepath.Join(root, slug)
	t := Walk(p)
	return Planned{Slug: slug, Path: p, ID: t.ID, Changed: t.Changed, IncludeTranscripts: true}
}

// A dir that holds a transcript is a conversation: only a plan made with
// --include-transcripts removes it, and one that gets a transcript after
// the checks (while being removed) is put back.
func TestConversationKept(t *testing.T) {
	root := t.TempDir()
	r := &Reclaimer{Root: root, Live: notLive}
	for _, name := range []string{"transcript.jsonl", "transcript", bottle.TranscriptPartial} {
		dir := filepath.Join(root, "c-aaaa1")
		os.RemoveAll(dir)
		write(t, filepath.Join(dir, name, "x"), 3)
		if name == "transcript.jsonl" {
			os.RemoveAll(dir)
			write(t, filepath.Join(dir, name), 3)
		}
		p := planned(root, "c-aaaa1")
		p.IncludeTranscripts = false
		if o := r.Remove(p); o.Status != bottle.Skipped || o.Reason != ReasonConversation {
			t.Errorf("%s: %+v", name, o)
		}
		if !HoldsTranscript(dir) {
			t.Errorf("%s: gone", name)
		}
		if o := r.Remove(planned(root, "c-aaaa1")); o.Status != bottle.Removed {
			t.Errorf("%s, --include-transcripts: %+v", name, o)
		}
	}
}

// A write of the run's own (the transcript it saved before the bottle
// went) does not make the dir "changed since plan", nor younger; a change
// by anyone else before it, or after it, still does.
func TestOwnWriteAccepted(t *testing.T) {
	root := t.TempDir()
	r := &Reclaimer{Root: root, Live: notLive, Now: func() time.Time { return time.Now().Add(48 * time.Hour) }}
	mk := func(slug string) (string, Planned) {
		dir := filepath.Join(root, slug)
		write(t, filepath.Join(dir, bottle.ComposeFile), 2)
		old := time.Now().Add(-24 * time.Hour)
		os.Chtimes(filepath.Join(dir, bottle.ComposeFile), old, old)
		os.Chtimes(dir, old, old)
		p := planned(root, slug)
		p.OlderThan = 60 * time.Hour
		return dir, p
	}
	ownWrite := func(dir string, p *Planned) {
		time.Sleep(10 * time.Millisecond)
		before := Walk(dir)
		write(t, filepath.Join(dir, "transcript", "s.jsonl"), 5)
		p.Wrote = &Wrote{Before: before, After: Walk(dir)}
	}
	dir, p := mk("own-aaaa1")
	ownWrite(dir, &p)
	if o := r.Remove(p); o.Status != bottle.Removed {
		t.Errorf("own write: %+v", o)
	}
	dir, p = mk("before-bbbb2")
	time.Sleep(10 * time.Millisecond)
	write(t, filepath.Join(dir, "guardian.log"), 1)
	ownWrite(dir, &p)
	if o := r.Remove(p); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "changed since plan") {
		t.Errorf("changed before the own write: %+v", o)
	}
	dir, p = mk("after-cccc3")
	ownWrite(dir, &p)
	time.Sleep(10 * time.Millisecond)
	write(t, filepath.Join(dir, "guardian.log"), 1)
	if o := r.Remove(p); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "changed since plan") {
		t.Errorf("changed after the own write: %+v", o)
	}
}

func TestRemove(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "gone-aaaa1")
	write(t, filepath.Join(dir, "transcript.jsonl"), 10)
	write(t, filepath.Join(dir, "transcript", "sub", "f"), 10)
	r := &Reclaimer{Root: root, Live: notLive, DryRun: true}
	if o := r.Remove(planned(root, "gone-aaaa1")); o.Status != bottle.WouldRemove {
		t.Fatalf("dry run: %+v", o)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("a dry run removed the dir")
	}
	r.DryRun = false
	p := planned(root, "gone-aaaa1")
	if o := r.Remove(p); o.Status != bottle.Removed {
		t.Fatalf("remove: %+v", o)
	}
	if _, err := os.Lstat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("still there: %v", err)
	}
	if des, _ := os.ReadDir(root); len(des) != 0 {
		t.Fatalf("left behind: %v", des)
	}
	if o := r.Remove(p); o.Status != bottle.Gone {
		t.Fatalf("again: %+v", o)
	}
	r.Root = filepath.Join(root, "none")
	if o := r.Remove(Planned{Slug: "x-aaaa1", Path: filepath.Join(r.Root, "x-aaaa1")}); o.Status != bottle.Gone {
		t.Fatalf("missing root: %+v", o)
	}
}

// The root may be reached through a symlink; the plan may name either path.
func TestRemoveSymlinkedRoot(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "state")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(link, "a-aaaa1"), filepath.Join(real, "a-aaaa1")} {
		mkdir(t, filepath.Join(real, "a-aaaa1"))
		r := &Reclaimer{Root: link, Live: notLive}
		pl := planned(real, "a-aaaa1")
		pl.Path = p
		if o := r.Remove(pl); o.Status != bottle.Removed {
			t.Fatalf("%s: %+v", p, o)
		}
	}
}

func TestRemoveRefusals(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write(t, filepath.Join(outside, "precious"), 5)
	write(t, filepath.Join(root, "ok-aaaa1", "transcript"), 1)
	if err := os.Symlink(outside, filepath.Join(root, "link-bbbb2")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "file-cccc3"), 1)
	write(t, filepath.Join(root, "kept-dddd4", bottle.PreserveFile), 0)
	write(t, filepath.Join(root, "kept-dddd4", bottle.MetaFile), 2)
	mkdir(t, filepath.Join(root, "locked-eeee5"))
	holdLock(t, filepath.Join(root, "locked-eeee5"))
	mkdir(t, filepath.Join(root, "live-ffff6"))

	live := func(slug string) (bool, error) {
		switch slug {
		case "live-ffff6":
			return true, nil
		case "err-gggg7":
			return false, errors.New("engine down")
		}
		return false, nil
	}
	mkdir(t, filepath.Join(root, "err-gggg7"))
	r := &Reclaimer{Root: root, Live: live}
	for _, tc := range []struct {
		slug, path string
		status     string
		reason     string
	}{
		{"..", filepath.Join(root, ".."), bottle.Invalid, "is not a slug"},
		{"../x", filepath.Join(root, "../x"), bottle.Invalid, "is not a slug"},
		{"a/b", filepath.Join(root, "a/b"), bottle.Invalid, "is not a slug"},
		{".preserve", filepath.Join(root, ".preserve"), bottle.Invalid, "is not a slug"},
		{"", root, bottle.Invalid, "is not a slug"},
		{"ok-aaaa1", filepath.Join(outside, "ok-aaaa1"), bottle.Invalid, "is not " + filepath.Join(root, "ok-aaaa1")},
		{"ok-aaaa1", filepath.Join(root, "link-bbbb2"), bottle.Invalid, "the state dir of slug"},
		{"ok-aaaa1", filepath.Join(root, "ok-aaaa1", "transcript"), bottle.Invalid, "the state dir of slug"},
		{"ok-aaaa1", filepath.Join(root, "sub", "..", "ok-aaaa1") + "/", bottle.Invalid, "the state dir of slug"},
		{"link-bbbb2", filepath.Join(root, "link-bbbb2"), bottle.Skipped, "symlink"},
		{"file-cccc3", filepath.Join(root, "file-cccc3"), bottle.Skipped, "not a directory"},
		{"kept-dddd4", filepath.Join(root, "kept-dddd4"), bottle.Skipped, "preserved"},
		{"locked-eeee5", filepath.Join(root, "locked-eeee5"), bottle.Skipped, "bottle-launch holds its lock"},
		{"live-ffff6", filepath.Join(root, "live-ffff6"), bottle.Skipped, "its bottle exists"},
		{"err-gggg7", filepath.Join(root, "err-gggg7"), bottle.Skipped, "could not be asked whether its bottle exists: engine down"},
	} {
		p := planned(root, tc.slug)
		p.Path = tc.path
		o := r.Remove(p)
		if o.Status != tc.status || !strings.Contains(o.Reason, tc.reason) {
			t.Errorf("Remove(%q, %q) = %+v, want %s (%s)", tc.slug, tc.path, o, tc.status, tc.reason)
		}
	}
	// Without a Live, nothing is removed.
	r.Live = nil
	if o := r.Remove(planned(root, "ok-aaaa1")); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "no backend could be asked") {
		t.Errorf("nil Live: %+v", o)
	}
	// Everything refused is still there, the symlink's target included.
	for _, p := range []string{"ok-aaaa1/transcript", "link-bbbb2/precious", "file-cccc3", "kept-dddd4/" + bottle.PreserveFile, "locked-eeee5", "live-ffff6", "err-gggg7"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if des, _ := os.ReadDir(root); len(des) != 7 {
		t.Errorf("root holds %d entries, want 7 (nothing moved aside)", len(des))
	}
}

// Red team: a state root that is a symlink to / makes every top-level dir
// of the file system look like a state dir (/tmp is slug "tmp"). The
// remover resolves the root when it acts and refuses it, even in a dry run.
func TestRemoveRootResolvesToSlash(t *testing.T) {
	link := filepath.Join(t.TempDir(), "state")
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	r := &Reclaimer{Root: link, Live: notLive, DryRun: true}
	for _, p := range []string{filepath.Join(link, "tmp"), "/tmp"} {
		if o := r.Remove(Planned{Slug: "tmp", Path: p}); o.Status != bottle.Invalid || !strings.Contains(o.Reason, "state root") {
			t.Errorf("Remove(tmp, %s) under a root resolving to /: %+v, want invalid", p, o)
		}
	}
}

// Red team: a bottle-launch that takes the dir's lock after the remover
// checked it (here: while the remover asks whether the bottle is live) must
// keep its dir. The remover checks the lock again once the dir is moved
// aside, and puts it back.
func TestRemoveLockTakenWhileChecking(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "late-aaaa1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The launcher's lock file is there from the start: taking the lock
	// changes nothing on disk that the change check would see.
	if err := os.WriteFile(filepath.Join(dir, bottle.MetaFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, bottle.LockFile), 0)
	p := planned(root, "late-aaaa1")
	var lock *Lock
	defer func() { lock.Release() }()
	r := &Reclaimer{Root: root, Live: func(string) (bool, error) {
		var err error
		if lock, err = Acquire(dir); err != nil {
			t.Fatal(err)
		}
		return false, nil
	}}
	if o := r.Remove(p); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "took its lock while removing") {
		t.Errorf("lock taken while checking: %+v, want skipped", o)
	}
	if _, err := os.Stat(filepath.Join(dir, "bottle.json")); err != nil {
		t.Errorf("the launcher's dir is gone: %v", err)
	}
	if des, _ := os.ReadDir(root); len(des) != 1 {
		t.Errorf("root holds %d entries, want 1 (nothing left aside)", len(des))
	}
}

// Resumable is what bottle-launch --resume accepts, as far as the dir
// tells: a bottle.json naming a bottle (docker or smolmachines) of the slug and the prefix,
// on an engine asked (or ended), no launcher, no live bottle. A transcript
// or a Dockerfile has nothing to do with it.
func TestResumable(t *testing.T) {
	root := t.TempDir()
	meta := func(slug, body string) Entry {
		write(t, filepath.Join(root, slug, bottle.MetaFile), 0)
		if err := os.WriteFile(filepath.Join(root, slug, bottle.MetaFile), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		es, err := Scan(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Slug == slug {
				return e
			}
		}
		t.Fatalf("no entry %s", slug)
		return Entry{}
	}
	good := `{"backend":"docker","name":"bt-res-aaaa1","slug":"res-aaaa1","agent":"res","engine":"unix:///e.sock"}`
	e := meta("res-aaaa1", good)
	engines := EnginesAt("unix:///e.sock")
	if !e.Resumable("bt-", engines, false) {
		t.Errorf("a bottle.json of the slug and prefix: not resumable")
	}
	// --resume starts a smolmachines bottle again too (launch_smol_resume)
	if !meta("res-eeee5", `{"backend":"smolmachines","name":"bt-res-eeee5","slug":"res-eeee5","agent":"res","engine":"unix:///e.sock"}`).Resumable("bt-", engines, false) {
		t.Errorf("a smolmachines bottle.json: not resumable")
	}
	for what, ok := range map[string]bool{
		"live":              e.Resumable("bt-", engines, true),
		"another prefix":    e.Resumable("xx-", engines, false),
		"another engine":    e.Resumable("bt-", EnginesAt("unix:///other.sock"), false),
		"another slug":      meta("res-bbbb2", good).Resumable("bt-", engines, false),
		"unknown backend":   meta("res-cccc3", `{"backend":"k8s","name":"bt-res-cccc3","slug":"res-cccc3","agent":"res"}`).Resumable("bt-", engines, false),
		"no bottle.json":    Entry{Slug: "x-aaaa1", Type: Dir}.Resumable("bt-", engines, false),
		"an unreadable one": meta("res-dddd4", `[]`).Resumable("bt-", engines, false),
	} {
		if ok {
			t.Errorf("%s: resumable", what)
		}
	}
	ended := meta("res-eeee5", `{"backend":"docker","name":"bt-res-eeee5","slug":"res-eeee5","agent":"res","engine":"unix:///other.sock","ended":"2026-01-01T00:00:00Z"}`)
	if !ended.Resumable("bt-", engines, false) {
		t.Errorf("an ended bottle of another engine is resumable here")
	}
}
