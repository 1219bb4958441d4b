package launch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, "is empty"},
		{`{"agent":"a","imgae":"x"}`, `unknown field "imgae"`},
		{`{"agent":"a","sidecar":{"prot":1}}`, `unknown field "prot"`},
		{`{"agent":"a",}`, "line 1: not valid JSON"},
		{`{"agent":"a"} {}`, "more than one JSON value"},
		{`{"agent":1}`, `field "agent" must be a string, not number`},
		{`{"sidecar":{"allow":"x"}}`, `field "sidecar.allow" must be an array of strings`},
	} {
		_, err := Decode(strings.NewReader(tc.in), "t")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.md"), []byte("hi"), 0o644)
	os.Mkdir(filepath.Join(dir, "skills"), 0o755)
	unreadable := filepath.Join(dir, "secret")
	os.WriteFile(unreadable, []byte("x"), 0o000)
	ok := func() Spec {
		s := Spec{Agent: "a-1", Image: "img", Prompt: "p.md", Skills: "skills"}
		s.Resolve(dir)
		s.Defaults()
		return s
	}
	if err := func() error { s := ok(); return s.Check(nil) }(); err != nil {
		t.Fatalf("good spec refused: %v", err)
	}
	for _, tc := range []struct {
		name    string
		mod     func(*Spec)
		flagged map[string]string
		want    string
		flag    string
	}{
		{"no agent", func(s *Spec) { s.Agent = "" }, nil, "names no agent", ""},
		{"bad agent", func(s *Spec) { s.Agent = "A b" }, nil, `bad agent name "A b"`, ""},
		{"bad agent flag", func(s *Spec) { s.Agent = "-x" }, map[string]string{"agent": "--agent"}, "bad agent name", "--agent"},
		{"path agent", func(s *Spec) { s.Agent = "../x" }, nil, "bad agent name", ""},
		{"no image", func(s *Spec) { s.Image = " " }, nil, "names no agent image", ""},
		{"bad allow", func(s *Spec) { s.Sidecar.Allow = []string{"a b"} }, map[string]string{"allow": "--allow"}, "bad allow entry", "--allow"},
		{"bad port", func(s *Spec) { s.Sidecar.Port = 70000 }, nil, "bad sidecar port", ""},
		{"missing prompt", func(s *Spec) { s.Prompt = filepath.Join(dir, "nope") }, nil, "no such file", ""},
		{"prompt dir", func(s *Spec) { s.Prompt = dir }, nil, "is a directory", ""},
		{"skills file", func(s *Spec) { s.Skills = filepath.Join(dir, "p.md") }, nil, "is not a directory", ""},
		{"env name", func(s *Spec) { s.Env = map[string]string{"A=B": "x"} }, nil, "bad env name", ""},
		{"git quote", func(s *Spec) { s.Git = &Git{User: `a"b`} }, nil, "bad git user", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok()
			tc.mod(&s)
			err := s.Check(tc.flagged)
			var se *SpecError
			if !errors.As(err, &se) || !strings.Contains(se.Msg, tc.want) || se.Flag != tc.flag {
				t.Fatalf("Check = %#v, want %q from %q", err, tc.want, tc.flag)
			}
		})
	}
	if os.Getuid() != 0 { // root reads anything
		s := ok()
		s.Git = &Git{Credential: unreadable}
		if err := s.Check(nil); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("unreadable credential: %v", err)
		}
	}
}

func TestRedacted(t *testing.T) {
	s := Spec{Env: map[string]string{"KEY": "sk-secret"}}
	r := s.Redacted()
	if r.Env["KEY"] != "(redacted)" || s.Env["KEY"] != "sk-secret" {
		t.Fatalf("Redacted = %v (original %v)", r.Env, s.Env)
	}
}
