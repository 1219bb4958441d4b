package cleanup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/engines"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/transcript"
)

const prefix = "btclean01-"

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func scope(t *testing.T) cli.Scope {
	return cli.Scope{Prefix: prefix, StateDir: t.TempDir()}
}

// The selection flags become plan options: names are slugs (a name with
// the prefix, or the slug itself; each once), and what cannot be planned
// is a usage error naming the flag and what to give instead.
func TestSelectionOptions(t *testing.T) {
	s := Selection{Names: []string{prefix + "a-aaaa1", "a-aaaa1", "b-bbbb2"}, Kinds: []Kind{"machine", "state-dir"},
		OlderThan: cli.Duration(36 * time.Hour), IncludeTranscripts: true, DiscardTranscript: true}
	o, err := s.Options(scope(t), now)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Names, " ") != "a-aaaa1 b-bbbb2" || strings.Join(o.Kinds, " ") != "machine state-dir" || o.OlderThan != 36*time.Hour ||
		!o.IncludeTranscripts || !o.DiscardTranscript || o.Prefix != prefix || !o.Now.Equal(now) {
		t.Errorf("options %+v", o)
	}
	for _, tc := range []struct {
		s    Selection
		want string
	}{
		{Selection{Kinds: []Kind{"pod"}}, `unknown --kind "pod": use one of `},
		{Selection{DiscardTranscript: true}, "--discard-transcript needs --name"},
		{Selection{Names: []string{"Not A Slug"}}, `bad --name "Not A Slug": give a bottle's name (` + prefix + `<slug>) or its slug`},
	} {
		_, err := tc.s.Options(scope(t), now)
		if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a usage error with %q", tc.s, err, tc.want)
		}
	}
}

// --jobs takes 1 to 64; anything else says what to give.
func TestJobs(t *testing.T) {
	var j Jobs
	if err := j.UnmarshalFlag("x"); err == nil || !strings.Contains(err.Error(), "use a number from 1 to 64") {
		t.Errorf("x: %v", err)
	}
	for _, n := range []string{"0", "65", "-1"} {
		if err := j.UnmarshalFlag(n); err != nil {
			t.Fatal(err)
		}
		if err := (Reaping{Jobs: j}).Check(); err == nil || exitcode.Of(err) != exitcode.Usage {
			t.Errorf("--jobs %s: %v", n, err)
		}
	}
	for _, n := range []string{"1", "64"} {
		j.UnmarshalFlag(n)
		if err := (Reaping{Jobs: j}).Check(); err != nil {
			t.Errorf("--jobs %s: %v", n, err)
		}
	}
	var got []string
	for _, c := range Kind("").Complete("co") {
		got = append(got, c.Item)
	}
	if strings.Join(got, " ") != "compose-project container" {
		t.Errorf("completion of co: %v", got)
	}
}

// holder is a backend whose machines hold their transcript.
type holder struct {
	backend.Remover
	asked []string
}

func (h *holder) Handles(it bottle.Item) bool { return it.Kind == bottle.KindMachine }
func (h *holder) ProbeTranscript(_ context.Context, it bottle.Item) (bool, bool, error) {
	h.asked = append(h.asked, it.Name)
	return true, true, nil
}
func (h *holder) SaveTranscript(context.Context, bottle.Item, string) (transcript.Saved, error) {
	return transcript.Saved{}, errors.New("not asked here")
}

// Probe asks a compose project's agent container (never a container made
// to ask), a machine's backend, and nothing else.
func TestProbe(t *testing.T) {
	f := enginefake.New(t)
	h := &holder{}
	pool := engines.NewPool(func(string) string { return "" }, prefix, func(func(string) string, string) (*backend.Set, error) {
		return &backend.Set{Engine: f, Backends: []backend.Backend{h}}, nil
	}, engines.Default)
	probe := Probe(pool)
	name := prefix + "p-aaaa1"
	project := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: name, Slug: "p-aaaa1",
		Containers: []bottle.Container{{Name: name + "-agent-1", ID: enginefake.ID(1), Service: bottle.ServiceAgent}},
		Volumes:    []bottle.Volume{{Name: name + "_home", ID: name + "_home"}}}
	f.OnCopyFrom = func(id, path string) (io.ReadCloser, error) {
		return nil, enginefake.NotFound("container: " + id)
	}
	if has, known, err := probe(context.Background(), project); has || known || err != nil {
		t.Errorf("agent gone: %v %v %v", has, known, err)
	}
	if got := f.Calls("copy-from"); len(got) != 1 || got[0] != enginefake.ID(1)+":"+bottle.AgentTranscript {
		t.Errorf("copies %v", got)
	}
	machine := bottle.Item{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: prefix + "m-aaaa1"}
	if has, known, err := probe(context.Background(), machine); !has || !known || err != nil || len(h.asked) != 1 {
		t.Errorf("machine: %v %v %v, asked %v", has, known, err, h.asked)
	}
	stray := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindContainer, Name: prefix + "s-aaaa1", ID: enginefake.ID(2)}
	if has, known, err := probe(context.Background(), stray); has || known || err != nil {
		t.Errorf("stray: %v %v %v", has, known, err)
	}
}

type run struct {
	f              *enginefake.Engine
	tool           *cli.Tool
	stdout, stderr *bytes.Buffer
}

func newRun(t *testing.T, terminal bool) *run {
	r := &run{f: enginefake.New(t), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	env := cli.Env{Stdout: r.stdout, Stderr: r.stderr, StdoutTTY: terminal, Now: func() time.Time { return now },
		Getenv: func(k string) string { return map[string]string{"NO_COLOR": "1"}[k] },
		Open: func(getenv func(string) string, prefix string) (*backend.Set, error) {
			return all.On(r.f, getenv, prefix), nil
		}}
	r.tool = &cli.Tool{Name: "bottle-reap", Env: env}
	return r
}

func (r *run) reap(t *testing.T, input string) error {
	p, err := cli.NewPrinter(r.tool.Env, cli.Output{})
	if err != nil {
		t.Fatal(err)
	}
	return Reap(context.Background(), r.tool, nil, []io.Reader{strings.NewReader(input)}, scope(t), Reaping{Jobs: 2}, p)
}

// Reap reaps plan lines on the backends the environment opens and prints
// one result a line (a table at a terminal) and the summary on stderr;
// empty input asks nothing; a line that is no plan item fails the run and
// says what a plan is.
func TestReap(t *testing.T) {
	r := newRun(t, false) // strict: any engine call fails the test
	if err := r.reap(t, ""); err != nil || r.stdout.Len()+r.stderr.Len() != 0 {
		t.Fatalf("empty input: %v, %q %q", err, r.stdout, r.stderr)
	}

	id := enginefake.ID(7)
	line := `{"backend":"docker","kind":"container","name":"` + prefix + `s-aaaa1","id":"` + id + `"}` + "\n"
	for _, terminal := range []bool{false, true} {
		r := newRun(t, terminal)
		w := enginefake.NewWorld()
		w.Add(engine.Container{ID: id, Name: prefix + "s-aaaa1", State: "exited"})
		w.Wire(r.f)
		if err := r.reap(t, line); err != nil {
			t.Fatal(err)
		}
		if len(w.Containers) != 0 {
			t.Errorf("left %v", w.Containers)
		}
		if terminal {
			if !strings.Contains(r.stdout.String(), "removed") || !strings.Contains(r.stdout.String(), prefix+"s-aaaa1") || strings.Contains(r.stdout.String(), "{") {
				t.Errorf("table:\n%s", r.stdout)
			}
		} else {
			var rec struct {
				Name   string        `json:"name"`
				Result bottle.Result `json:"result"`
			}
			if err := json.Unmarshal(r.stdout.Bytes(), &rec); err != nil || rec.Name != prefix+"s-aaaa1" || rec.Result.Status != bottle.Removed {
				t.Errorf("stdout %q: %+v %v", r.stdout, rec, err)
			}
		}
		if !strings.HasPrefix(r.stderr.String(), "removed 1,") {
			t.Errorf("summary %q", r.stderr)
		}
	}

	r = newRun(t, false)
	err := r.reap(t, `{"hello":"world"}`+"\n")
	if err == nil || exitcode.Of(err) != exitcode.Failure {
		t.Errorf("not a plan: %v", err)
	}
	if !strings.Contains(r.stderr.String(), "bottle-reap: stdin line 1 is no plan item") || !strings.Contains(r.stderr.String(), "make one with bottle-plan-cleanup > plan.jsonl") {
		t.Errorf("stderr %q", r.stderr)
	}
}
