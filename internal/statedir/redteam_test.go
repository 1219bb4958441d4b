package statedir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/exitcode"
)

func TestSlugShape(t *testing.T) {
	for name, want := range map[string]bool{
		"researcher-m3hxd": true, "a-00000": true, "my_agent-x-abcde": true, "a-aaaa1": true,
		"thesis": false, "webapp": false, "state": false, "alice": false, "orphan-1": false,
		"a-abcdef": false, "a-ABCDE": false, "-abcde": false, "_a-abcde": false, "A-abcde": false,
		"a.b-abcde": false, "a-abc.e": false, strings.Repeat("a", 41) + "-abcde": false, strings.Repeat("a", 40) + "-abcde": true,
	} {
		if SlugShape(name) != want {
			t.Errorf("SlugShape(%q) = %v, want %v", name, !want, want)
		}
	}
}

// Red team, hole 1: a mistyped state root. Each root is refused (exit 2,
// naming how many entries do not look like bottle state); nothing in it
// looks like a state dir.
func TestCheckRootRedTeam(t *testing.T) {
	// BOTTLE_STATE_DIR=~/.claude-bottle, one level too high: its state/
	// holds a preserved bottle dir.
	high := t.TempDir()
	write(t, filepath.Join(high, "state", "kept-aaaa1", bottle.PreserveFile), 0)
	write(t, filepath.Join(high, "state", "kept-aaaa1", "transcript.jsonl"), 10)
	// A dir of source checkouts.
	src := t.TempDir()
	write(t, filepath.Join(src, "thesis", "main.tex"), 10)
	write(t, filepath.Join(src, "webapp", ".git", "HEAD"), 10)
	write(t, filepath.Join(src, "webapp", "Dockerfile"), 10) // a Dockerfile does not make webapp a slug
	// /home: user dirs, one of them slug-shaped with a Dockerfile.
	home := t.TempDir()
	write(t, filepath.Join(home, "alice", ".bashrc"), 10)
	write(t, filepath.Join(home, "bob", "notes"), 10)
	write(t, filepath.Join(home, "carol-abcde", "Dockerfile"), 10)
	for name, tc := range map[string]struct {
		root       string
		bad, total int
	}{"one level too high": {high, 1, 1}, "source checkouts": {src, 2, 2}, "home": {home, 2, 3}} {
		err := CheckRoot(tc.root, true)
		if exitcode.Of(err) != exitcode.Usage || err == nil || !strings.Contains(err.Error(), strings.Join([]string{itoa(tc.bad), "of its", itoa(tc.total), "entries do not look like bottle state"}, " ")) {
			t.Errorf("%s: CheckRoot = %v (exit %d), want exit 2 naming %d of %d", name, err, exitcode.Of(err), tc.bad, tc.total)
		}
		entries, err := Scan(tc.root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.NotState == "" && e.Slug != "carol-abcde" {
				t.Errorf("%s: %s looks like a state dir", name, e.Slug)
			}
		}
	}

	// A state root with a few strays is used; the strays are named, and a
	// dir a killed reaper left aside counts for nothing.
	ok := t.TempDir()
	write(t, filepath.Join(ok, "a-aaaa1", bottle.MetaFile), 2)
	write(t, filepath.Join(ok, "b-bbbb2", "transcript.jsonl"), 2)
	mkdir(t, filepath.Join(ok, "c-cccc3"))
	write(t, filepath.Join(ok, "notes.txt"), 2)
	mkdir(t, filepath.Join(ok, "thesis"))
	for i := range 5 {
		mkdir(t, filepath.Join(ok, ".reaping-x-aaaa1-00"+itoa(i)))
	}
	if err := CheckRoot(ok, true); err != nil {
		t.Errorf("a root of 3 state dirs and 2 strays: %v", err)
	}
	// Missing and empty roots are fine.
	if err := CheckRoot(filepath.Join(ok, "none"), false); err != nil {
		t.Error(err)
	}
	if err := CheckRoot(t.TempDir(), false); err != nil {
		t.Error(err)
	}
	// Only .reaping-* dirs: nothing refuses.
	aside := t.TempDir()
	mkdir(t, filepath.Join(aside, ".reaping-x-aaaa1-0123"))
	if err := CheckRoot(aside, false); err != nil {
		t.Error(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// The remover checks the look at the moment it acts: a dir that was a
// state dir when planned and holds something else now stays.
func TestRemoveNotStateDir(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "proj-abcde", "main.go"), 3)
	r := &Reclaimer{Root: root, Live: notLive}
	o := r.Remove(planned(root, "proj-abcde"))
	if o.Status != bottle.Skipped || !strings.Contains(o.Reason, "not a bottle's state dir: it holds \"main.go\", which no bottle writes there") {
		t.Errorf("%+v", o)
	}
	write(t, filepath.Join(root, "thesis", "transcript.jsonl"), 3)
	if o := r.Remove(planned(root, "thesis")); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "is not a slug's") {
		t.Errorf("%+v", o)
	}
}

// A .preserve anywhere in the tree keeps the dir.
func TestRemovePreserveAnywhere(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "a-aaaa1", "transcript.jsonl"), 3)
	write(t, filepath.Join(root, "a-aaaa1", "transcript", "deep", bottle.PreserveFile), 0)
	r := &Reclaimer{Root: root, Live: notLive}
	o := r.Remove(planned(root, "a-aaaa1"))
	if o.Status != bottle.Skipped || !strings.Contains(o.Reason, "preserved (transcript/deep/.preserve)") {
		t.Errorf("%+v", o)
	}
	if _, err := os.Stat(filepath.Join(root, "a-aaaa1", "transcript.jsonl")); err != nil {
		t.Error(err)
	}
}

// Issue 8: the .preserve check after the dir is moved aside. A .preserve
// made deep in the tree between the checks and the rename (here: while the
// remover asks whether the bottle lives) keeps everything; the reason is
// the post-rename check's own.
func TestRemovePreserveAfterRename(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a-aaaa1")
	for _, d := range []string{"a", "b", "c", "d", "e"} {
		write(t, filepath.Join(dir, "transcript", d, "file"), 3)
	}
	write(t, filepath.Join(dir, "transcript.jsonl"), 3)
	p := planned(root, "a-aaaa1")
	r := &Reclaimer{Root: root, Live: func(string) (bool, error) {
		write(t, filepath.Join(dir, "transcript", "c", bottle.PreserveFile), 0)
		return false, nil
	}}
	o := r.Remove(p)
	if o.Status != bottle.Skipped || o.Reason != "preserved (transcript/c/.preserve while removing)" {
		t.Errorf("%+v, want skipped: preserved (transcript/c/.preserve while removing)", o)
	}
	for _, d := range []string{"a", "b", "c", "d", "e"} {
		if _, err := os.Stat(filepath.Join(dir, "transcript", d, "file")); err != nil {
			t.Error(err)
		}
	}
	if des, _ := os.ReadDir(root); len(des) != 1 {
		t.Errorf("root holds %d entries, want 1 (put back)", len(des))
	}
}

// Red team, hole 4: a dir removed and made again after the plan, a dir
// written to after the plan, and one whose newest file had its time set
// back: each is skipped as changed since plan.
func TestRemoveChangedSincePlan(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a-aaaa1")
	r := &Reclaimer{Root: root, Live: notLive}

	write(t, filepath.Join(dir, "transcript.jsonl"), 3)
	p := planned(root, "a-aaaa1")
	// The old dir is kept elsewhere (a removed one's inode may be reused:
	// then its change time tells, see below).
	if err := os.Rename(dir, filepath.Join(root, ".old")); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "transcript.jsonl"), 30) // a new bottle's, same slug
	if o := r.Remove(p); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "changed since plan: it is another directory now") {
		t.Errorf("recreated: %+v", o)
	}

	p = planned(root, "a-aaaa1")
	time.Sleep(10 * time.Millisecond)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "transcript.jsonl"), 30)
	if o := r.Remove(p); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "changed since plan") {
		t.Errorf("removed and made again: %+v", o)
	}

	p = planned(root, "a-aaaa1")
	time.Sleep(10 * time.Millisecond)
	write(t, filepath.Join(dir, "transcript", "sub", "new.jsonl"), 3)
	if o := r.Remove(p); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "changed since plan") {
		t.Errorf("written to: %+v", o)
	}

	p = planned(root, "a-aaaa1")
	time.Sleep(10 * time.Millisecond)
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	f := filepath.Join(dir, "transcript", "sub", "new.jsonl")
	if err := os.WriteFile(f, []byte("more"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f, old, old); err != nil {
		t.Fatal(err)
	}
	if o := r.Remove(p); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "changed since plan") {
		t.Errorf("written with its time set back: %+v", o)
	}
	if _, err := os.Stat(f); err != nil {
		t.Fatal(err)
	}

	// An item without its identity is refused.
	if o := r.Remove(Planned{Slug: "a-aaaa1", Path: dir}); o.Status != bottle.Invalid || !strings.Contains(o.Reason, "records no identity") {
		t.Errorf("no identity: %+v", o)
	}
	// Unchanged: removed.
	if o := r.Remove(planned(root, "a-aaaa1")); o.Status != bottle.Removed {
		t.Errorf("unchanged: %+v", o)
	}
}

// Red team, hole 4: a plan made with --older-than records it; a dir
// written to since is not old any more when the reaper acts.
func TestRemoveOlderThan(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "a-aaaa1", "transcript.jsonl"), 3)
	p := planned(root, "a-aaaa1")
	p.OlderThan = time.Hour
	r := &Reclaimer{Root: root, Live: notLive}
	if o := r.Remove(p); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "not older than --older-than 1h0m0s") {
		t.Errorf("new dir, --older-than 1h: %+v", o)
	}
	r.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if o := r.Remove(p); o.Status != bottle.Removed {
		t.Errorf("two hours later: %+v", o)
	}
}

// Red team, hole 12: a dir whose bottle.json cannot be read whole is never
// removed (it may be a live bottle's of another prefix).
func TestRemoveUnreadableMeta(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "big-aaaa1", bottle.MetaFile), 0)
	big := `{"name":"other-big-aaaa1","spec":"` + strings.Repeat("x", MaxMeta) + `"}`
	if err := os.WriteFile(filepath.Join(root, "big-aaaa1", bottle.MetaFile), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "text-aaaa1", bottle.MetaFile), 5)
	mkdir(t, filepath.Join(root, "dir-aaaa1", bottle.MetaFile))
	mkdir(t, filepath.Join(root, "fifo-aaaa1"))
	if err := syscall.Mkfifo(filepath.Join(root, "fifo-aaaa1", bottle.MetaFile), 0o600); err != nil {
		t.Fatal(err)
	}
	mkdir(t, filepath.Join(root, "link-aaaa1"))
	if err := os.Symlink("/dev/zero", filepath.Join(root, "link-aaaa1", bottle.MetaFile)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"big-aaaa1":  "larger than 1048576 bytes",
		"text-aaaa1": "not a JSON object",
		"dir-aaaa1":  "not a regular file",
		"fifo-aaaa1": "not a regular file",
		"link-aaaa1": "is a symlink",
	}
	entries, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.MetaErr == nil || !strings.Contains(e.MetaErr.Error(), want[e.Slug]) {
			t.Errorf("%s: MetaErr %v, want %q", e.Slug, e.MetaErr, want[e.Slug])
		}
	}
	r := &Reclaimer{Root: root, Live: notLive, Prefix: "p-"}
	for slug, why := range want {
		if o := r.Remove(planned(root, slug)); o.Status != bottle.Skipped || !strings.Contains(o.Reason, why) {
			t.Errorf("%s: %+v, want skipped (%s)", slug, o, why)
		}
	}
	if des, _ := os.ReadDir(root); len(des) != len(want) {
		t.Errorf("root holds %d entries, want %d", len(des), len(want))
	}
}

// Red team, hole 14: a dir whose bottle.json names an engine this run did
// not ask stays; one that names the engine asked (through a symlinked
// socket path too) goes; one that names none keeps today's rules.
func TestRemoveOtherEngine(t *testing.T) {
	root := t.TempDir()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	write(t, sock, 0)
	link := filepath.Join(t.TempDir(), "run")
	if err := os.Symlink(filepath.Dir(sock), link); err != nil {
		t.Fatal(err)
	}
	meta := func(slug, engine string) {
		write(t, filepath.Join(root, slug, bottle.MetaFile), 0)
		if err := os.WriteFile(filepath.Join(root, slug, bottle.MetaFile), []byte(`{"name":"p-`+slug+`","engine":"`+engine+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meta("b-aaaa1", "unix:///engine-b.sock")
	meta("a-aaaa1", "unix://"+filepath.Join(link, "docker.sock"))
	meta("old-aaaa1", "")
	r := &Reclaimer{Root: root, Live: notLive, Prefix: "p-", Engines: EnginesAt("unix://" + sock)}
	if o := r.Remove(planned(root, "b-aaaa1")); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "names engine unix:///engine-b.sock, and this run asked unix://"+sock) {
		t.Errorf("other engine: %+v", o)
	}
	for _, s := range []string{"a-aaaa1", "old-aaaa1"} {
		if o := r.Remove(planned(root, s)); o.Status != bottle.Removed {
			t.Errorf("%s: %+v", s, o)
		}
	}
	// No engine asked: a dir that names one stays.
	meta("c-aaaa1", "unix://"+sock)
	r.Engines = Engines{}
	if o := r.Remove(planned(root, "c-aaaa1")); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "this run asked none") {
		t.Errorf("no engine: %+v", o)
	}
}

// Issue 15, finding 6: a dir whose bottle.json names an engine ID goes
// only when an engine this run asked has that ID, whatever endpoint it
// answers at; the engine at its recorded endpoint being another one keeps
// it, and says which. The IDs are asked only for such a dir.
func TestRemoveEngineID(t *testing.T) {
	root := t.TempDir()
	meta := func(slug, body string) {
		write(t, filepath.Join(root, slug, bottle.MetaFile), 0)
		if err := os.WriteFile(filepath.Join(root, slug, bottle.MetaFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	asked := 0
	ids := func(id string) func() []string {
		return func() []string { asked++; return []string{id} }
	}
	meta("old-aaaa1", `{"name":"p-old-aaaa1","engine":"unix:///s.sock"}`)
	r := &Reclaimer{Root: root, Live: notLive, Prefix: "p-", Engines: Engines{Endpoints: []string{"unix:///s.sock"}, IDs: ids("E2")}}
	if o := r.Remove(planned(root, "old-aaaa1")); o.Status != bottle.Removed || asked != 0 {
		t.Errorf("a bottle.json without an ID keeps the endpoint rule, and asks no ID: %+v (asked %d)", o, asked)
	}
	meta("a-aaaa1", `{"name":"p-a-aaaa1","engine":"unix:///s.sock","engine_id":"E1"}`)
	o := r.Remove(planned(root, "a-aaaa1"))
	if o.Status != bottle.Skipped || asked != 1 || !strings.Contains(o.Reason, "names engine E1 (made at unix:///s.sock), and the engine answering at unix:///s.sock now is E2; no engine this run asked has that ID") {
		t.Errorf("another engine at the same endpoint: %+v (asked %d)", o, asked)
	}
	r.Engines = Engines{Endpoints: []string{"unix:///elsewhere.sock"}, IDs: ids("E1")}
	if o := r.Remove(planned(root, "a-aaaa1")); o.Status != bottle.Removed {
		t.Errorf("the engine of that ID, at another endpoint: %+v", o)
	}
	meta("b-aaaa1", `{"name":"p-b-aaaa1","engine":"unix:///s.sock","engine_id":"E1"}`)
	r.Engines = Engines{Endpoints: []string{"unix:///s.sock"}, IDs: ids("")}
	if o := r.Remove(planned(root, "b-aaaa1")); o.Status != bottle.Skipped || !strings.Contains(o.Reason, "no engine this run asked has that ID") {
		t.Errorf("an engine whose ID could not be asked: %+v", o)
	}
	r.Engines = EnginesAt("unix:///s.sock")
	if o := r.Remove(planned(root, "b-aaaa1")); o.Status != bottle.Skipped {
		t.Errorf("no ID known: %+v", o)
	}
}

// Red team, hole 6: a FIFO named .lock (or bottle.json) hung every tool in
// open(). Nothing here opens it blocking.
func TestFIFOLock(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a-aaaa1")
	mkdir(t, dir)
	if err := syscall.Mkfifo(filepath.Join(dir, bottle.LockFile), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		var out []string
		if Locked(dir) {
			out = append(out, "locked")
		}
		entries, err := Scan(root)
		if err != nil || len(entries) != 1 || entries[0].Locked || entries[0].NotState != "" {
			out = append(out, "scan")
		}
		if _, err := Acquire(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			out = append(out, "acquire")
		}
		r := &Reclaimer{Root: root, Live: notLive}
		if o := r.Remove(planned(root, "a-aaaa1")); o.Status != bottle.Removed {
			out = append(out, "remove: "+o.Status+" "+o.Reason)
		}
		done <- strings.Join(out, ", ")
	}()
	select {
	case got := <-done:
		if got != "" {
			t.Errorf("with a FIFO .lock: %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a FIFO .lock hangs the state dir code")
	}
}

// Red team, hole 5: a bind mount inside a state dir. Its files were removed
// before the removal failed at the mount point. A mount there when the
// reaper looks: nothing is removed, failed naming the mount. A mount made
// after the checks: what is on it is never entered.
func TestRemoveBindMount(t *testing.T) {
	root := t.TempDir()
	victim := t.TempDir()
	write(t, filepath.Join(victim, "precious", "thesis.tex"), 10)
	dir := filepath.Join(root, "a-aaaa1")
	write(t, filepath.Join(dir, "transcript.jsonl"), 3)
	mkdir(t, filepath.Join(dir, "transcript", "mnt"))
	bindMount(t, victim, filepath.Join(dir, "transcript", "mnt"))

	entries, err := Scan(root)
	if err != nil || len(entries) != 1 || entries[0].Mount != "transcript/mnt" {
		t.Fatalf("scan: %+v %v", entries, err)
	}
	r := &Reclaimer{Root: root, Live: notLive}
	o := r.Remove(planned(root, "a-aaaa1"))
	if o.Status != bottle.Failed || !strings.Contains(o.Reason, filepath.Join(dir, "transcript", "mnt")+" is on another file system") {
		t.Errorf("mounted: %+v", o)
	}
	for _, p := range []string{filepath.Join(victim, "precious", "thesis.tex"), filepath.Join(dir, "transcript.jsonl"), filepath.Join(dir, "transcript", "mnt", "precious", "thesis.tex")} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
}

// The removal itself never enters another file system: a mount that
// appears after every check (here: right before removeTree) is left, with
// the dirs above it; the rest goes.
func TestRemoveTreeOneFileSystem(t *testing.T) {
	victim := t.TempDir()
	write(t, filepath.Join(victim, "precious", "thesis.tex"), 10)
	dir := filepath.Join(t.TempDir(), "a-aaaa1")
	write(t, filepath.Join(dir, "transcript.jsonl"), 3)
	write(t, filepath.Join(dir, "transcript", "other", "f"), 3)
	mkdir(t, filepath.Join(dir, "transcript", "mnt"))
	id := Walk(dir).ID
	bindMount(t, victim, filepath.Join(dir, "transcript", "mnt"))
	mount, err := removeTree(dir, id)
	if mount != "transcript/mnt" {
		t.Errorf("mount %q, err %v", mount, err)
	}
	if _, err := os.Stat(filepath.Join(victim, "precious", "thesis.tex")); err != nil {
		t.Errorf("the mounted dir's file: %v", err)
	}
	for _, p := range []string{"transcript.jsonl", "transcript/other"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want removed", p, err)
		}
	}
	// Another identity is never removed.
	if _, err := removeTree(dir, Identity{Device: id.Device, Inode: id.Inode + 1}); err == nil || !strings.Contains(err.Error(), "not device") {
		t.Errorf("another identity: %v", err)
	}
}
