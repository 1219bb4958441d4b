package reap

// The rescue inside a run: a launcher-made bottle's transcript saved into
// its state dir before its home volume goes.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// launched makes the state dir bottle-launch leaves for slug: bottle.json
// naming the bottle and its image.
func (e *env) launched(slug string) {
	e.t.Helper()
	dir := filepath.Join(e.root, slug)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		e.t.Fatal(err)
	}
	meta := fmt.Sprintf(`{"backend":"docker","name":"%s%s","slug":"%s","agent":"a","image":"bottle-test/agent","spec":{"image":"bottle-test/agent"}}`, prefix, slug, slug)
	if err := os.WriteFile(filepath.Join(dir, bottle.MetaFile), []byte(meta), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// saver is a Save that writes a transcript file into the dir, as the real
// one would, and fails for the slugs in fail.
type saver struct {
	mu    sync.Mutex
	saved map[string]transcript.Home
	fail  map[string]error
}

func (s *saver) save(_ context.Context, h transcript.Home, dir string) (transcript.Saved, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slug := filepath.Base(dir)
	if s.saved == nil {
		s.saved = map[string]transcript.Home{}
	}
	s.saved[slug] = h
	if err := s.fail[slug]; err != nil {
		return transcript.Saved{}, err
	}
	os.MkdirAll(filepath.Join(dir, bottle.TranscriptDir), 0o700)
	os.WriteFile(filepath.Join(dir, bottle.TranscriptDir, "s.jsonl"), []byte("saved\n"), 0o600)
	return transcript.Saved{Files: 1, Bytes: 6}, nil
}

// Before a launcher-made bottle's project goes, its transcript is saved
// into its state dir, whatever the plan says of that dir; the dir's own
// removal then decides by what it finds: a .preserve added after the plan
// keeps it (with the transcript), a plan without --include-transcripts
// keeps it (it holds a conversation now), a plan with it removes it (the
// rescue's own write is no change since the plan). A save that fails keeps
// the home volume, naming it and the ways out; the rest of the project
// goes. The slugs have a slug's shape, so the state root is accepted and
// each dir's own result is checked.
func TestTranscriptSavedFirst(t *testing.T) {
	e := newEnv(t)
	sv := &saver{fail: map[string]error{"broken-cccc3": errors.New("No such image: bottle-test/agent")}}
	e.opt.Save = sv.save
	slugs := []string{"keep-aaaa1", "going-bbbb2", "broken-cccc3", "kept-dddd4", "talk-eeee5"}
	projects := map[string]bottle.Item{}
	for _, s := range slugs {
		projects[s] = e.w.bottle(s, "exited")
		e.launched(s)
	}
	going, kept, talk := e.statedir("going-bbbb2", false), e.statedir("kept-dddd4", false), e.statedir("talk-eeee5", false)
	going.IncludeTranscripts, kept.IncludeTranscripts = true, true
	for _, s := range slugs {
		e.add(projects[s])
	}
	e.add(going, kept, talk)
	// after the plan, a person keeps one dir
	os.WriteFile(filepath.Join(e.root, "kept-dddd4", bottle.PreserveFile), nil, 0o600)

	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	status(t, res[1], bottle.Removed, "")
	status(t, res[2], bottle.Failed, "volume "+prefix+"broken-cccc3_home: its transcript could not be saved into "+filepath.Join(e.root, "broken-cccc3")+
		": No such image: bottle-test/agent; the volume is kept (it holds the only copy): retry with bottle-cleanup --name broken-cccc3, or let it go with bottle-cleanup --name broken-cccc3 --discard-transcript")
	status(t, res[3], bottle.Removed, "")
	status(t, res[4], bottle.Removed, "")
	status(t, res[5], bottle.Removed, "")                          // going-bbbb2's dir
	status(t, res[6], bottle.Skipped, "preserved (.preserve)")     // kept-dddd4's dir
	status(t, res[7], bottle.Skipped, statedir.ReasonConversation) // talk-eeee5's dir
	for _, s := range slugs {
		h, ok := sv.saved[s]
		if !ok || h.Image != "bottle-test/agent" || h.Volume != prefix+s+"_home" || h.Agent != projects[s].Containers[0].ID {
			t.Errorf("%s: saved %v with %+v", s, ok, h)
		}
	}
	for _, s := range []string{"keep-aaaa1", "kept-dddd4", "talk-eeee5"} {
		if _, err := os.Stat(filepath.Join(e.root, s, bottle.TranscriptDir, "s.jsonl")); err != nil {
			t.Errorf("%s: the transcript is not in its dir: %v", s, err)
		}
	}
	if _, err := os.Stat(filepath.Join(e.root, "going-bbbb2")); err == nil {
		t.Error("going-bbbb2's dir stayed although its plan included conversations")
	}
	// the failed save kept exactly the home volume
	if _, ok := e.w.Volumes[prefix+"broken-cccc3_home"]; !ok {
		t.Error("the home volume went although its transcript could not be saved")
	}
	for _, c := range projects["broken-cccc3"].Containers {
		if _, ok := e.w.Containers[c.ID]; ok {
			t.Errorf("%s stayed: only the home volume is kept", c.Name)
		}
	}
}

// A dry run saves nothing; a bottle planned with discard_transcript is not
// saved, and its home volume goes.
func TestTranscriptNotSaved(t *testing.T) {
	sv := &saver{}
	e := newEnv(t)
	e.opt.DryRun, e.opt.Save = true, sv.save
	e.launched("dry-aaaa1")
	e.add(e.w.bottle("dry-aaaa1", "exited"))
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.WouldRemove, "")

	e = newEnv(t)
	e.opt.Save = sv.save
	e.launched("dis-bbbb2")
	it := e.w.bottle("dis-bbbb2", "exited")
	it.DiscardTranscript = true
	e.add(it)
	res, _ = e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	if len(sv.saved) != 0 {
		t.Errorf("saved %v", sv.saved)
	}
}
