package smolvmcli

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/smolvmfake"
)

func TestParseVersion(t *testing.T) {
	for out, want := range map[string]Version{
		"smolvm 1.9.3\n":           {1, 9, 3},
		"smolvm 1.14.5":            {1, 14, 5},
		"smolvm v1.22.0-dev\n":     {1, 22, 0},
		"warning: x\nsmolvm 2.0.1": {2, 0, 1},
	} {
		if v, err := ParseVersion(out); err != nil || v != want {
			t.Errorf("%q: %v, %v; want %v", out, v, err, want)
		}
	}
	for _, out := range []string{"", "1.9.3", "smolvm", "smolvm one.two.three", "other 1.9.3"} {
		if v, err := ParseVersion(out); err == nil {
			t.Errorf("%q: %v, want an error", out, v)
		}
	}
	if !(Version{1, 8, 3}).Less(MinLaunchVersion) || (Version{1, 9, 0}).Less(MinLaunchVersion) || (Version{1, 10, 0}).Less(Version{1, 9, 9}) || !(Version{0, 99, 99}).Less(Version{1, 0, 0}) {
		t.Error("Less")
	}
}

// TestCheckName copies smolvm's validate_vm_name cases (src/data/mod.rs).
func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "claude-bottle-agent-abcde", "Web_1", "9x", strings.Repeat("a", 128)} {
		if why := CheckName(ok); why != "" {
			t.Errorf("%q refused: %s", ok, why)
		}
	}
	for _, bad := range []string{"", "-a", "_a", "a-", "a--b", "a.b", "a/b", "a b", strings.Repeat("a", 129)} {
		if CheckName(bad) == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLaunchEnv(t *testing.T) {
	env := LaunchEnv([]string{"PATH=/bin", "HTTPS_PROXY=http://p", "https_proxy=x", "NO_PROXY=a", "ALL_PROXY=b", "HOME=/h", "HTTP_PROXYX=keep"}, "S=1")
	if want := []string{"PATH=/bin", "HOME=/h", "HTTP_PROXYX=keep", "S=1"}; !slices.Equal(env, want) {
		t.Errorf("LaunchEnv = %v, want %v", env, want)
	}
}

// TestLaunchCallsAgainstFake runs the launcher's calls against the fake:
// version, start of a machine, stop and delete with their not-found
// answers, a copy refused for a ':' in the host path.
func TestLaunchCallsAgainstFake(t *testing.T) {
	c, seed := fakeCLI(t)
	ctx := context.Background()
	if v, err := c.Version(ctx); err != nil || v.String() != smolvmfake.Version {
		t.Errorf("Version = %v, %v", v, err)
	}
	t.Setenv(smolvmfake.EnvVersion, "1.8.3")
	if v, err := c.Version(ctx); err != nil || !v.Less(MinLaunchVersion) {
		t.Errorf("Version with 1.8.3 = %v, %v", v, err)
	}
	seed("machine", "create", "--name", "p-a-1")
	if err := c.Start(ctx, nil, "p-a-1", 0); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Machine(ctx, "p-a-1"); err != nil || m == nil || m.State != "running" {
		t.Errorf("Machine = %+v, %v", m, err)
	}
	if err := c.Start(ctx, nil, "p-none-2", 0); !IsNotFound(err) {
		t.Errorf("start of a missing machine: %v", err)
	}
	if err := c.StopWithin(ctx, "p-a-1", 0); err != nil {
		t.Error(err)
	}
	if err := c.CopyIn(ctx, "p-a-1", "/tmp/a:b", "/x", 0o600, 0, 0, 0); err == nil || !strings.Contains(err.Error(), "':'") {
		t.Errorf("CopyIn of a host path with ':' = %v", err)
	}
	// cp and exec need a running machine, and say so as smolvm does
	err := c.CopyIn(ctx, "p-a-1", "/etc/hostname", "/x", 0o600, 0, 0, 0)
	var ee *ExitError
	if err == nil || !strings.Contains(err.Error(), "machine 'p-a-1' is not running. Use 'smolvm machine start --name p-a-1' first.") {
		t.Errorf("cp into a stopped machine = %v", err)
	} else if !errors.As(err, &ee) || ee.Code != 1 {
		t.Errorf("cp into a stopped machine: %#v, want exit 1", err)
	}
	if err := c.DeleteWithin(ctx, "p-a-1", 0); err != nil {
		t.Error(err)
	}
	if err := c.DeleteWithin(ctx, "p-a-1", 0); !IsNotFound(err) {
		t.Errorf("second delete = %v", err)
	}
}
