package launch

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// transcriptTar is the agent's transcript tree as the archive API gives it.
func savedTranscriptTar(t *testing.T, line string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"projects/", "projects/-workspace/"} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755})
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "projects/-workspace/s1.jsonl", Mode: 0o644, Size: int64(len(line))})
	tw.Write([]byte(line))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// endedBottle starts a claude bottle on f and ends it; the agent leaves
// transcript (nil: none). It returns the bottle's slug.
func endedBottle(t *testing.T, f *enginefake.Engine, s Spec, opt Options, transcript []byte) string {
	t.Helper()
	f.OnCopyFrom = func(id, p string) (io.ReadCloser, error) {
		if p == bottle.AgentTranscript && transcript != nil {
			return io.NopCloser(bytes.NewReader(transcript)), nil
		}
		return nil, enginefake.NotFound("file: " + p)
	}
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.End(context.Background(), 0, false); err != nil {
		t.Fatal(err)
	}
	return b.Project.Slug
}

func claudeSpec() Spec {
	s := Spec{Agent: "unit", Image: "img", Command: []string{"claude", "-p", "go on"}, Env: map[string]string{"KEY": "secret"}}
	s.Defaults()
	return s
}

// agentCmd is the command the last agent container was created with.
func agentCmd(f *enginefake.Engine) []string {
	var cmd []string
	for _, s := range f.Specs() {
		if strings.HasSuffix(s.Name, "-"+bottle.ServiceAgent+"-1") {
			cmd = s.Cmd
		}
	}
	return cmd
}

// tarEntries lists an archive's entries as "name uid:gid".
func tarEntries(t *testing.T, data []byte) map[string]string {
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out[h.Name] = User{h.Uid, h.Gid}.String() + " " + string(body)
	}
}

// A resume keeps the slug, project and state dir, restores the saved
// transcript into the new home (owned by the image's user), appends the
// continue flag to the agent's command — and only to the container's:
// bottle.json keeps the spec's command, so resuming twice appends once.
func TestResumeRestoresTranscriptAndContinues(t *testing.T) {
	f, w, _, opt := setup(t)
	s := claudeSpec()
	if !slices.Equal(s.Continue, []string{"--continue"}) {
		t.Fatalf("Defaults: continue = %q for a claude command", s.Continue)
	}
	slug := endedBottle(t, f, s, opt, savedTranscriptTar(t, `{"turn":1}`))
	dir := filepath.Join(opt.StateRoot, slug)

	for round := 1; round <= 2; round++ {
		sv, err := OpenSaved(opt.StateRoot, opt.Prefix, slug)
		if err != nil {
			t.Fatal(err)
		}
		if !sv.Transcript || sv.Meta.Slug != slug || sv.Spec.Env["KEY"] != RedactedValue {
			t.Fatalf("round %d: OpenSaved = %+v", round, sv)
		}
		if !statedir.Locked(dir) {
			t.Fatal("OpenSaved does not hold the state dir's lock")
		}
		w.ImageUser = "1234:1234"
		f.Forget()
		rs := sv.Spec
		rs.Env = map[string]string{"KEY": "secret again"}
		b, err := sv.Start(context.Background(), f, rs, opt)
		if err != nil {
			t.Fatal(err)
		}
		if b.Project.Slug != slug || b.Project.StateDir != dir || b.Project.Name != opt.Prefix+slug {
			t.Errorf("round %d: resumed as %+v", round, b.Project)
		}
		if got := agentCmd(f); !slices.Equal(got, []string{"claude", "-p", "go on", "--continue"}) {
			t.Errorf("round %d: agent command %q", round, got)
		}
		restored := false
		for _, c := range f.Copies() {
			e := tarEntries(t, c.Data)
			if got, ok := e["home/agent/.claude/projects/-workspace/s1.jsonl"]; ok {
				restored = true
				if c.ID != b.AgentID() || !strings.HasPrefix(got, "1234:1234 ") || !strings.Contains(got, `{"turn":1}`) {
					t.Errorf("round %d: restored into %s: %q", round, c.ID, got)
				}
				if e["home/agent/.claude/projects/-workspace/"] == "" || !strings.HasPrefix(e["home/agent/.claude/projects/-workspace/"], "1234:1234") {
					t.Errorf("round %d: the transcript's dir is not the user's: %v", round, e)
				}
			}
		}
		if !restored {
			t.Errorf("round %d: no copy restored the transcript", round)
		}
		m, err := os.ReadFile(filepath.Join(dir, bottle.MetaFile))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(m), `"ended"`) || strings.Contains(string(m), "secret") || strings.Count(string(m), "--continue") != 1 {
			t.Errorf("round %d: bottle.json after the resume:\n%s", round, m)
		}
		if _, err := b.End(context.Background(), 0, false); err != nil {
			t.Fatal(err)
		}
	}
}

// No transcript saved: nothing is restored and the command gets no
// continue flag (claude --continue with nothing to continue fails).
func TestResumeWithoutTranscript(t *testing.T) {
	f, _, _, opt := setup(t)
	slug := endedBottle(t, f, claudeSpec(), opt, nil)
	sv, err := OpenSaved(opt.StateRoot, opt.Prefix, slug)
	if err != nil {
		t.Fatal(err)
	}
	if sv.Transcript {
		t.Error("Transcript without one")
	}
	f.Forget()
	b, err := sv.Start(context.Background(), f, claudeSpec(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := agentCmd(f); !slices.Equal(got, []string{"claude", "-p", "go on"}) {
		t.Errorf("agent command %q", got)
	}
	if n := len(f.Copies()); n != 2 {
		t.Errorf("%d copies, want the sidecar's and the agent's provisioning only", n)
	}
	b.End(context.Background(), 0, false)
}

// A resume that fails removes what it made and leaves the state dir as it
// was: bottle.json, compose.json, the transcript and .preserve; unlocked.
func TestResumeFailureKeepsStateDir(t *testing.T) {
	f, w, _, opt := setup(t)
	slug := endedBottle(t, f, claudeSpec(), opt, savedTranscriptTar(t, "x"))
	dir := filepath.Join(opt.StateRoot, slug)
	os.WriteFile(filepath.Join(dir, bottle.PreserveFile), []byte("keep\n"), 0o600)
	before := map[string][]byte{}
	for _, n := range []string{bottle.MetaFile, bottle.ComposeFile, bottle.PreserveFile, "transcript/-workspace/s1.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		before[n] = b
	}
	sv, err := OpenSaved(opt.StateRoot, opt.Prefix, slug)
	if err != nil {
		t.Fatal(err)
	}
	f.OnStartContainer = func(string) error { return errors.New("boom") }
	if _, err := sv.Start(context.Background(), f, claudeSpec(), opt); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Start = %v", err)
	}
	if held := w.Held(); len(held) != 0 {
		t.Errorf("left behind: %v", held)
	}
	for n, want := range before {
		if got, err := os.ReadFile(filepath.Join(dir, n)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s after the failed resume: %q, %v; want %q", n, got, err, want)
		}
	}
	if statedir.Locked(dir) {
		t.Error("the state dir is still locked")
	}
}

// A resume whose images are not on the engine is refused before anything
// is made or written, naming them; the dir is left as it was, unlocked.
func TestResumeChecksImagesFirst(t *testing.T) {
	f, _, _, opt := setup(t)
	slug := endedBottle(t, f, claudeSpec(), opt, nil)
	dir := filepath.Join(opt.StateRoot, slug)
	meta, _ := os.ReadFile(filepath.Join(dir, bottle.MetaFile))
	sv, err := OpenSaved(opt.StateRoot, opt.Prefix, slug)
	if err != nil {
		t.Fatal(err)
	}
	f.Forget()
	f.OnImageID = func(ref string) (string, error) { return "", enginefake.NotFound("image: " + ref) }
	var mi *MissingImagesError
	if _, err := sv.Start(context.Background(), f, claudeSpec(), opt); !errors.As(err, &mi) || len(mi.Images) != 2 {
		t.Fatalf("Start = %v", err)
	}
	calls := slices.DeleteFunc(f.Log(), func(l string) bool { return strings.HasPrefix(l, "image-id ") })
	if got, _ := os.ReadFile(filepath.Join(dir, bottle.MetaFile)); !bytes.Equal(got, meta) || len(calls) != 0 || statedir.Locked(dir) {
		t.Errorf("bottle.json changed %v, engine calls %v, locked %v", !bytes.Equal(got, meta), calls, statedir.Locked(dir))
	}
}

// What cannot be resumed is refused with one line naming the slug, before
// anything is made.
func TestOpenSavedRefuses(t *testing.T) {
	f, _, _, opt := setup(t)
	slug := endedBottle(t, f, claudeSpec(), opt, nil)
	root := opt.StateRoot
	os.Mkdir(filepath.Join(root, "junk-aaaaa"), 0o700)
	os.WriteFile(filepath.Join(root, "junk-aaaaa", "notes.txt"), nil, 0o600)
	os.Mkdir(filepath.Join(root, "old-bbbbb"), 0o700)
	os.WriteFile(filepath.Join(root, "old-bbbbb", "Dockerfile"), nil, 0o600)
	os.Mkdir(filepath.Join(root, "bad-ccccc"), 0o700)
	os.WriteFile(filepath.Join(root, "bad-ccccc", bottle.MetaFile), []byte("{"), 0o600)
	os.Symlink(filepath.Join(root, slug), filepath.Join(root, "link-ddddd"))
	locked, err := statedir.Acquire(filepath.Join(root, slug))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		prefix, slug, want string
		code               int
	}{
		{opt.Prefix, "../etc", "not a bottle's name or slug: give the " + opt.Prefix + "<agent>-<5 letters or digits> or the slug alone", exitcode.Usage},
		{opt.Prefix, "gone-zzzzz", "no state dir", exitcode.Usage},
		{opt.Prefix, "link-ddddd", "is not a directory", exitcode.Usage},
		{opt.Prefix, "junk-aaaaa", "does not look like a bottle's state dir", exitcode.Usage},
		{opt.Prefix, "old-bbbbb", "has no bottle.json: only bottles made by bottle-launch", exitcode.Usage},
		{opt.Prefix, "bad-ccccc", "bottle.json is not a JSON object", exitcode.BadInput},
		{opt.Prefix, slug, "is locked: a bottle-launch (or its guardian) still runs this bottle", exitcode.Usage},
	} {
		_, err := OpenSaved(root, c.prefix, c.slug)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "--resume "+c.slug+": ") || strings.Contains(err.Error(), "\n") || exitcode.Of(err) != c.code {
			t.Errorf("OpenSaved(%s) = %v (exit %d), want %q, exit %d", c.slug, err, exitcode.Of(err), c.want, c.code)
		}
	}
	locked.Release()
	if _, err := OpenSaved(root, "bt-other-", slug); err == nil || !strings.Contains(err.Error(), "a bottle of another prefix (pass --prefix "+opt.Prefix+")") || exitcode.Of(err) != exitcode.Usage {
		t.Errorf("another prefix: %v", err)
	}
	if statedir.Locked(filepath.Join(root, slug)) {
		t.Error("a refused OpenSaved kept the lock")
	}
}

func TestSpecContinue(t *testing.T) {
	for _, c := range []struct {
		cmd, cont, want []string
	}{
		{[]string{"claude"}, nil, []string{"--continue"}},
		{[]string{"/usr/local/bin/claude", "--dangerously-skip-permissions"}, nil, []string{"--continue"}},
		{[]string{"claude"}, []string{}, []string{}},
		{[]string{"node", "agent.js"}, nil, []string{}},
		{nil, nil, []string{}},
		{[]string{"my-agent"}, []string{"--resume-last"}, []string{"--resume-last"}},
	} {
		s := Spec{Agent: "a", Image: "i", Command: c.cmd, Continue: c.cont}
		s.Defaults()
		if s.Continue == nil || !slices.Equal(s.Continue, c.want) {
			t.Errorf("command %q continue %q: Defaults made %q, want %q", c.cmd, c.cont, s.Continue, c.want)
		}
	}
	s := Spec{Agent: "a", Image: "i", Continue: []string{"--continue"}}
	s.Defaults()
	if err := s.Check(nil); err == nil || !strings.Contains(err.Error(), "continue needs command") {
		t.Errorf("continue without command: %v", err)
	}
}
