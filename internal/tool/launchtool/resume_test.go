package launchtool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/launch"
)

// savedDir makes a state dir as an ended bottle leaves it and opens it.
func savedDir(t *testing.T) (*launch.Saved, options) {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "res-abcde")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	meta := `{"backend":"docker","name":"bt-u-res-abcde","slug":"res-abcde","agent":"res","prefix":"bt-u-",
	"spec":{"agent":"res","image":"img","command":["claude"],"continue":["--continue"],"env":{"B_KEY":"(redacted)","A_KEY":"(redacted)"},"sidecar":{"image":"pl","port":8888,"allow":["api.anthropic.com"]}},
	"containers":[],"networks":[],"volumes":[]}`
	if err := os.WriteFile(filepath.Join(dir, "bottle.json"), []byte(meta), 0o600); err != nil {
		t.Fatal(err)
	}
	sv, err := launch.OpenSaved(root, "bt-u-", "res-abcde")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sv.Release)
	return sv, options{Resume: "res-abcde"}
}

func envOf(m map[string]string) cli.Env {
	return cli.Env{Getenv: func(k string) string { return m[k] }}
}

// bottle.json keeps env names only: a resume takes the values from the
// environment, and refuses (naming every missing one) rather than start the
// agent with the placeholder.
func TestResumeSpecEnv(t *testing.T) {
	sv, o := savedDir(t)
	_, _, err := resumeSpec(envOf(map[string]string{"A_KEY": "a"}), o, sv)
	if err == nil || exitcode.Of(err) != exitcode.Usage || err.Error() != "--resume res-abcde: bottle.json keeps env names, not their values: set B_KEY in the environment (or pass --spec FILE with the values)" {
		t.Errorf("one missing: %v", err)
	}
	_, _, err = resumeSpec(envOf(nil), o, sv)
	if err == nil || !strings.Contains(err.Error(), "set A_KEY, B_KEY in the environment") {
		t.Errorf("both missing: %v", err)
	}
	_, _, err = resumeSpec(envOf(map[string]string{"A_KEY": "a", "B_KEY": launch.RedactedValue}), o, sv)
	if err == nil || exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "env B_KEY is (redacted), the placeholder") {
		t.Errorf("placeholder: %v", err)
	}
	o.Image = "other:1"
	spec, fromStdin, err := resumeSpec(envOf(map[string]string{"A_KEY": "a", "B_KEY": "b"}), o, sv)
	if err != nil || fromStdin {
		t.Fatal(err, fromStdin)
	}
	if spec.Env["A_KEY"] != "a" || spec.Env["B_KEY"] != "b" || spec.Image != "other:1" || spec.Agent != "res" || len(spec.Continue) != 1 {
		t.Errorf("spec = %+v", spec)
	}
}

// --spec replaces bottle.json's spec (its env values used); the agent
// stays the bottle's, and a placeholder value is refused.
func TestResumeSpecFromFile(t *testing.T) {
	sv, o := savedDir(t)
	f := filepath.Join(t.TempDir(), "spec.json")
	os.WriteFile(f, []byte(`{"agent":"res","image":"new","command":["claude"],"env":{"K":"(redacted)"}}`), 0o600)
	o.Spec = f
	if _, _, err := resumeSpec(envOf(nil), o, sv); err == nil || !strings.Contains(err.Error(), "env K is (redacted)") {
		t.Errorf("placeholder in --spec: %v", err)
	}
	os.WriteFile(f, []byte(`{"image":"new","command":["claude"],"env":{"K":"v"}}`), 0o600)
	spec, _, err := resumeSpec(envOf(nil), o, sv)
	if err != nil || spec.Image != "new" || spec.Agent != "res" || spec.Env["K"] != "v" {
		t.Errorf("--spec: %+v, %v", spec, err)
	}
}
