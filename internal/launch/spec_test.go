package launch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/proc/self/environ", filepath.Join(dir, "environ"))
	os.Symlink("/", filepath.Join(dir, "rootlink"))
	os.WriteFile(filepath.Join(dir, "big"), make([]byte, MaxFileBytes+1), 0o644)
	home := filepath.Join(dir, "home", "ada")
	os.MkdirAll(home, 0o755)
	t.Setenv("HOME", home)
	os.Mkdir(filepath.Join(home, "project"), 0o755)
	os.Symlink(filepath.Join(dir, "skills"), filepath.Join(dir, "skills-link"))
	os.Mkdir(filepath.Join(dir, "links"), 0o755)
	os.Symlink(filepath.Join(dir, "p.md"), filepath.Join(dir, "links", "p.md"))
	ok := func() Spec {
		s := Spec{Agent: "a-1", Image: "img", Prompt: "p.md", Skills: "skills"}
		s.Resolve(dir)
		s.Defaults()
		return s
	}
	if err := func() error { s := ok(); return s.Check(nil) }(); err != nil {
		t.Fatalf("good spec refused: %v", err)
	}
	// a project inside home, skills given as a symlink, no allow list
	if err := func() error {
		s := Spec{Agent: "a-1", Image: "img", Workspace: filepath.Join(home, "project"), Skills: filepath.Join(dir, "skills-link")}
		s.Defaults()
		if !slices.Equal(s.Sidecar.Allow, DefaultAllow) {
			return fmt.Errorf("allow absent = %v, want %v", s.Sidecar.Allow, DefaultAllow)
		}
		return s.Check(nil)
	}(); err != nil {
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
		{"empty allow", func(s *Spec) { s.Sidecar.Allow = []string{} }, nil, "sidecar.allow is empty", ""},
		{"trusted ip", func(s *Spec) { s.Sidecar.Trusted = []string{"10.0.0.1"} }, nil, "bad sidecar.trusted entry", ""},
		{"trusted tld", func(s *Spec) { s.Sidecar.Trusted = []string{"*.internal"} }, nil, "bad sidecar.trusted entry", ""},
		{"bad passthrough", func(s *Spec) { s.Sidecar.Passthrough = []string{"https://x"} }, nil, "bad sidecar.passthrough entry", ""},
		{"fifo prompt", func(s *Spec) { s.Prompt = filepath.Join(dir, "fifo") }, nil, "is a FIFO", ""},
		{"environ prompt", func(s *Spec) { s.Prompt = filepath.Join(dir, "environ") }, nil, "resolves to /proc/", ""},
		{"device prompt", func(s *Spec) { s.Prompt = "/dev/zero" }, nil, "resolves to /dev/zero", ""},
		{"big prompt", func(s *Spec) { s.Prompt = filepath.Join(dir, "big") }, nil, "the limit is", ""},
		{"fifo credential", func(s *Spec) { s.Git = &Git{Credential: filepath.Join(dir, "fifo")} }, nil, "is a FIFO", ""},
		{"root workspace", func(s *Spec) { s.Workspace = "/" }, nil, "is the root directory", ""},
		{"home workspace", func(s *Spec) { s.Workspace = home }, nil, "is your home directory", ""},
		{"home parent workspace", func(s *Spec) { s.Workspace = filepath.Dir(home) }, nil, "an ancestor of your home directory", ""},
		{"etc workspace", func(s *Spec) { s.Workspace = "/etc" }, nil, "the system directory /etc", ""},
		{"usr/lib workspace", func(s *Spec) { s.Workspace = "/usr/lib" }, nil, "the system directory /usr", ""},
		{"root link workspace", func(s *Spec) { s.Workspace = filepath.Join(dir, "rootlink") }, nil, "is the root directory", ""},
		{"proc skills", func(s *Spec) { s.Skills = "/proc/self" }, nil, "resolves to /proc/", ""},
		{"symlinks-only skills", func(s *Spec) { s.Skills = filepath.Join(dir, "links") }, nil, "holds no regular file", ""},
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
