package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/launch"
)

// composeEnv names the docker compose CLI plugin binary the scripts get:
// make test builds it with scripts/compose.sh (the release
// launch.ComposeVersion names, from the Go module proxy, cached outside the
// repository) and sets this.
const composeEnv = "BOTTLE_TEST_COMPOSE"

// dockerConfig is the scripts' own DOCKER_CONFIG, made by TestScripts when
// composeEnv names a plugin (see makeDockerConfig); "" otherwise, and then
// the scripts get the test's DOCKER_CONFIG, if any, as before.
var dockerConfig string

// makeDockerConfig makes dir a DOCKER_CONFIG holding the compose plugin
// (linked as cli-plugins/docker-compose) and, when outer (the test's own
// DOCKER_CONFIG) is set, links to its config.json and contexts, so the
// scripts' engine (currentContext, DOCKER_CONTEXT) stays the test's. The
// user's ~/.docker is never written or read.
func makeDockerConfig(dir, plugin, outer string) error {
	abs, err := filepath.Abs(plugin)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(abs); err != nil {
		return fmt.Errorf("%s=%s: %w", composeEnv, plugin, err)
	} else if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s=%s: not an executable file", composeEnv, plugin)
	}
	plugins := filepath.Join(dir, "cli-plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(abs, filepath.Join(plugins, "docker-compose")); err != nil {
		return err
	}
	if outer == "" {
		return nil
	}
	for _, name := range []string{"config.json", "contexts"} {
		src := filepath.Join(outer, name)
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Symlink(src, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// composeVersion returns what `docker compose version --short` says in the
// environment the scripts run in: HOME an empty directory (so a per-user
// plugin in the real ~/.docker/cli-plugins is not seen), only the variables
// setup passes on, and DOCKER_CONFIG=config when config is not "". (A
// condition cannot see a script's own environment, so it builds the same
// one.)
func composeVersion(config string) (string, error) {
	home, err := os.MkdirTemp("", "bottle-e2e-home-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	cmd := exec.Command("docker", "compose", "version", "--short")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	for _, k := range passEnv {
		if v := os.Getenv(k); v != "" && !(k == "DOCKER_CONFIG" && config != "") {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if config != "" {
		cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+config)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return "", fmt.Errorf("docker compose version: %v: %s", err, first)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), nil
}

// composeUse decides [compose]: true when the compose plugin the scripts
// see is the release launch.ComposeVersion names (the one the labels claim
// and make test builds). Under -short it is false without asking; under
// CI=true anything else is an error, never a skip.
func composeUse(short, required bool, seen func() (string, error)) (bool, error) {
	if short {
		return false, nil
	}
	v, err := seen()
	switch {
	case err == nil && v == launch.ComposeVersion:
		return true, nil
	case !required:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("CI=true but the scripts see no docker compose plugin (%v): make test builds compose %s with scripts/compose.sh and names it in %s", err, launch.ComposeVersion, composeEnv)
	default:
		return false, fmt.Errorf("CI=true but the scripts see docker compose %s, not %s: make test builds it with scripts/compose.sh and names it in %s", v, launch.ComposeVersion, composeEnv)
	}
}

func TestComposeUse(t *testing.T) {
	want := func() (string, error) { return launch.ComposeVersion, nil }
	other := func() (string, error) { return "2.40.3", nil }
	none := func() (string, error) { return "", errors.New("docker: unknown command: docker compose") }
	for _, tc := range []struct {
		name            string
		short, required bool
		seen            func() (string, error)
		run, err, asked bool
	}{
		{"short never asks", true, true, want, false, false, false},
		{"the pinned release", false, true, want, true, false, true},
		{"another release, locally", false, false, other, false, false, true},
		{"another release, CI", false, true, other, false, true, true},
		{"none, locally", false, false, none, false, false, true},
		{"none, CI", false, true, none, false, true, true},
	} {
		asked := false
		run, err := composeUse(tc.short, tc.required, func() (string, error) { asked = true; return tc.seen() })
		if run != tc.run || (err != nil) != tc.err || asked != tc.asked {
			t.Errorf("%s: run %v, err %v, asked %v; want %v, %v, %v", tc.name, run, err, asked, tc.run, tc.err, tc.asked)
		}
	}
}

// TestComposePinIsTheLabel: scripts/compose.sh builds the compose release
// whose version bottle-launch writes in com.docker.compose.version, so the
// label names the release CI checked the bottle against.
func TestComposePinIsTheLabel(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "scripts", "compose.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version=\$\{COMPOSE_VERSION:-v([0-9.]+)\}$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("scripts/compose.sh has no `version=${COMPOSE_VERSION:-vX.Y.Z}` line")
	}
	if string(m[1]) != launch.ComposeVersion {
		t.Errorf("scripts/compose.sh builds compose v%s but launch.ComposeVersion (the label) is %s: change both", m[1], launch.ComposeVersion)
	}
}

// fakeCompose writes a compose CLI plugin that says it is version into
// dir/cli-plugins.
func fakeCompose(t *testing.T, dir, version string) string {
	t.Helper()
	plugins := filepath.Join(dir, "cli-plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	plugin := `#!/bin/sh
if [ "$1" = docker-cli-plugin-metadata ]; then
	echo '{"SchemaVersion":"0.1.0","Vendor":"bottle test","Version":"v` + version + `","ShortDescription":"fake"}'
	exit 0
fi
echo ` + version + `
`
	path := filepath.Join(plugins, "docker-compose")
	if err := os.WriteFile(path, []byte(plugin), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestComposeLooksWhereScriptsLook: [compose] sees the plugin in the
// scripts' own DOCKER_CONFIG, and neither a per-user plugin of the real HOME
// (~/.docker/cli-plugins; the scripts run with HOME=$WORK/home) nor one in
// the test's own DOCKER_CONFIG once the scripts have theirs.
func TestComposeLooksWhereScriptsLook(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but there is no docker CLI")
		}
		t.Skip("no docker CLI")
	}
	home := t.TempDir()
	fakeCompose(t, filepath.Join(home, ".docker"), "2.99.0")
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", "")
	if v, err := exec.Command("docker", "compose", "version", "--short").Output(); err != nil || strings.TrimSpace(string(v)) != "2.99.0" {
		t.Skipf("the docker CLI does not take the fake per-user plugin (%q, %v): nothing to tell apart", v, err)
	}
	if v, _ := composeVersion(""); v == "2.99.0" {
		t.Error("[compose] saw the per-user plugin of the real HOME; the scripts run with HOME=$WORK/home and would not")
	}

	outer := t.TempDir()
	fakeCompose(t, outer, "2.98.0")
	if err := os.WriteFile(filepath.Join(outer, "config.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", outer)
	if v, err := composeVersion(""); v != "2.98.0" {
		t.Errorf("without a DOCKER_CONFIG of their own the scripts get the test's: [compose] saw %q (%v); want 2.98.0", v, err)
	}
	mine := filepath.Join(t.TempDir(), "docker")
	plugin := fakeCompose(t, t.TempDir(), "2.97.0")
	if err := makeDockerConfig(mine, plugin, outer); err != nil {
		t.Fatal(err)
	}
	if v, err := composeVersion(mine); v != "2.97.0" {
		t.Errorf("[compose] saw %q (%v) with the scripts' own DOCKER_CONFIG; want its plugin, 2.97.0", v, err)
	}
	if _, err := os.Stat(filepath.Join(mine, "config.json")); err != nil {
		t.Errorf("the scripts' DOCKER_CONFIG lacks the test's config.json (its currentContext picks the engine): %v", err)
	}
	if err := makeDockerConfig(filepath.Join(t.TempDir(), "docker"), filepath.Join(outer, "config.json"), ""); err == nil {
		t.Error("makeDockerConfig took a plugin that is not executable")
	}
}
