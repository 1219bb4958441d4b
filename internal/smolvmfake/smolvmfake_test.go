package smolvmfake

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// run runs the fake in-process with a state file of the test's own.
func run(t *testing.T, state string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	env := func(k string) string {
		if k == EnvState {
			return state
		}
		return os.Getenv(k)
	}
	code := Run(args, strings.NewReader(stdin), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestParse(t *testing.T) {
	p, err := parse(commands["exec"], []string{"-it", "--name", "m", "-e", "A=1", "--env=B", "--", "sh", "-c", "x"})
	if err != nil || !p.has("interactive") || !p.has("tty") || p.str("name") != "m" || !slices.Equal(p.vals["env"], []string{"A=1", "B"}) ||
		!slices.Equal(p.tail, []string{"sh", "-c", "x"}) {
		t.Errorf("exec: %+v, %v", p, err)
	}
	// exec's command may start without `--` (trailing_var_arg)
	if p, err := parse(commands["exec"], []string{"--name", "m", "kill", "-TERM", "-1"}); err != nil || !slices.Equal(p.tail, []string{"kill", "-TERM", "-1"}) {
		t.Errorf("exec without --: %+v, %v", p, err)
	}
	for _, bad := range [][]string{
		{"exec", "-n", "m", "--", "true"},  // exec's --name has no -n
		{"create", "--name", "m", "extra"}, // no positional name
		{"create", "--nope"},
		{"stop", "--name"},
		{"create", "--name", "a", "--name", "b"},
		{"delete", "pos"},
	} {
		if _, err := parse(commands[bad[0]], bad[1:]); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
	if p, err := parse(commands["create"], []string{"-n", "m", "--label", "a=1", "--label", "b=2", "--", "sleep", "infinity"}); err != nil ||
		!slices.Equal(p.tail, []string{"sleep", "infinity"}) || len(p.vals["label"]) != 2 {
		t.Errorf("create: %+v, %v", p, err)
	}
	if p, err := parse(commands["cp"], []string{"a", "m:/b", "--mode", "600"}); err != nil || !slices.Equal(p.pos, []string{"a", "m:/b"}) || p.str("mode") != "600" {
		t.Errorf("cp: %+v, %v", p, err)
	}
}

// TestValidName copies the cases of smolvm's validate_vm_name tests.
func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "my-vm", "vm_1", "VM2", strings.Repeat("x", 128)} {
		if err := validName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"":                       "cannot be empty",
		"-a":                     "must start with a letter or digit",
		"a-":                     "cannot end with a hyphen",
		"a--b":                   "consecutive hyphens",
		"a.b":                    "invalid character: '.'",
		"a/b":                    "path separators",
		strings.Repeat("x", 129): "too long: 129 characters (max 128)",
	} {
		if err := validName(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", bad, err, want)
		}
	}
}

func TestPlanNetwork(t *testing.T) {
	plan := func(args ...string) (Network, error) {
		p, err := parse(commands["create"], append([]string{"--name", "m"}, args...))
		if err != nil {
			t.Fatal(err)
		}
		return planNetwork(p)
	}
	for _, c := range []struct {
		args    []string
		backend string
		cidrs   []string
		filter  bool
	}{
		{nil, "", nil, false},
		{[]string{"--net"}, "tsi", nil, false},
		{[]string{"--allow-host", "100.96.0.1"}, "virtio-net", []string{"100.96.0.1/32"}, true},
		{[]string{"--allow-cidr", "10.1.2.3/8"}, "virtio-net", []string{"10.0.0.0/8"}, false},
		{[]string{"--net", "--allow-cidr", "1.1.1.1"}, "virtio-net", []string{"1.1.1.1/32"}, false},
		{[]string{"-p", "8080:80"}, "virtio-net", nil, false},
		{[]string{"--net", "--net-backend", "virtio-net"}, "virtio-net", nil, false},
		{[]string{"--outbound-localhost-only"}, "virtio-net", []string{"127.0.0.0/8", "::1/128"}, false},
	} {
		n, err := plan(c.args...)
		if err != nil || n.Backend != c.backend || !slices.Equal(n.AllowCIDRs, c.cidrs) || n.DNSFilter != c.filter {
			t.Errorf("%v: %+v, %v", c.args, n, err)
		}
	}
	for _, c := range [][]string{
		{"--net-backend", "tsi", "--allow-host", "100.96.0.1"},
		{"--net-backend", "tsi", "-p", "80"},
		{"--net-backend", "virtio-net"},
		{"--allow-host", "host:443"},
		{"--allow-cidr", "nonsense"},
		{"--net-backend", "slirp"},
	} {
		if n, err := plan(c...); err == nil {
			t.Errorf("%v: accepted as %+v", c, n)
		}
	}
	if (Network{Backend: "tsi", AllowCIDRs: []string{"1.1.1.1/32"}}).Restricted() || !(Network{Backend: "virtio-net", AllowCIDRs: []string{"1.1.1.1/32"}}).Restricted() {
		t.Error("Restricted")
	}
}

// TestStateMachine walks a machine without a guest through the lifecycle
// with the real CLI's messages and exit codes.
func TestStateMachine(t *testing.T) {
	state := filepath.Join(t.TempDir(), "m.json")
	steps := []struct {
		args       []string
		code       int
		out, errs  string
		outContain string
	}{
		{args: []string{"--version"}, out: "smolvm 1.9.3\n"},
		{args: []string{"machine", "ls"}, out: "No machines found\n"},
		{args: []string{"machine", "ls", "--json"}, out: "[]\n"},
		{args: []string{"machine", "create", "--name", "a-", "--net"}, code: 1, errs: "Error: config operation failed: validate machine name: machine name cannot end with a hyphen (got: \"a-\")\n"},
		{args: []string{"machine", "create", "--name", "m", "--label", "x"}, code: 1, errs: "Error: config operation failed: --label: expected KEY=VALUE, got 'x'\n"},
		{args: []string{"machine", "create", "--name", "m", "--image", "alpine"}, code: 1, outContain: ""},
		{args: []string{"machine", "create", "--name", "m", "--label", "dev.bottle.slug=s", "--allow-host", "100.96.0.1", "--", "sleep", "infinity"}, out: "Created machine: m\n  CPUs: 4, Memory: 8192 MiB\n"},
		{args: []string{"machine", "create", "--name", "m"}, code: 1, errs: "Error: config operation failed: create machine: machine 'm' already exists or is being created\n"},
		{args: []string{"machine", "status", "--name", "m"}, out: "Machine 'm': created\n"},
		{args: []string{"machine", "exec", "--name", "m", "--", "true"}, code: 1, errs: "Error: agent operation failed: connect: machine 'm' is not running. Use 'smolvm machine start --name m' first.\n"},
		{args: []string{"machine", "cp", "a", "m:/b"}, code: 1, errs: "Error: agent operation failed: connect: machine 'm' is not running. Use 'smolvm machine start --name m' first.\n"},
		{args: []string{"machine", "cp", "a", "b"}, code: 1, errs: "Error: config operation failed: cp: one of SRC or DST must use machine:path syntax (e.g., myvm:/workspace/file)\n"},
		{args: []string{"machine", "cp", "m:/a", "b", "--mode", "600"}, code: 1, errs: "Error: config operation failed: cp: --mode/--uid/--gid apply to uploads only (host -> machine)\n"},
		{args: []string{"machine", "exec", "--name", "nope", "--", "true"}, code: 1, errs: "Error: vm not found: nope\n"},
		{args: []string{"machine", "exec", "-d", "-i", "--name", "m", "--", "true"}, code: 2},
		{args: []string{"machine", "exec", "--name", "m"}, code: 2},
		{args: []string{"machine", "start", "--name", "m"}, outContain: "Machine 'm' running (PID: "},
		{args: []string{"machine", "start", "--name", "m"}, outContain: "Machine 'm' already running (PID: "},
		{args: []string{"machine", "exec", "--name", "m", "--", "true"}, code: 1, errs: "Error: agent operation failed: the fake smolvm runs commands only in machines made from an image (--image -)\n"},
		{args: []string{"machine", "stop", "--name", "m"}, out: "Stopping machine 'm'...\nStopped machine: m\n"},
		{args: []string{"machine", "stop", "--name", "m"}, out: "Machine 'm' is not running (state: stopped)\n"},
		{args: []string{"machine", "status", "--name", "x", "--json"}, code: 1, errs: "Error: config operation failed: machine status: machine 'x' not found\n"},
		{args: []string{"machine", "rm", "--name", "m"}, out: "Cancelled\n", errs: "Delete machine 'm'? [y/N] "},
		{args: []string{"machine", "delete", "--name", "m", "-f"}, out: "Deleted machine: m\n"},
		{args: []string{"machine", "delete", "--name", "m", "-f"}, code: 1, errs: "Error: vm not found: m\n"},
	}
	for _, s := range steps {
		code, out, errs := run(t, state, "", s.args...)
		if code != s.code || (s.outContain == "" && s.out != "" && out != s.out) || (s.errs != "" && errs != s.errs) || !strings.Contains(out, s.outContain) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stdout %q%q, stderr %q", s.args, code, out, errs, s.code, s.out, s.outContain, s.errs)
		}
	}
	// every machine created is recorded with its network, after its delete too
	cs, err := Networks(state)
	if err != nil || len(cs) != 1 || cs[0].Name != "m" || !cs[0].Network.Restricted() || !slices.Equal(cs[0].Network.AllowCIDRs, []string{"100.96.0.1/32"}) {
		t.Errorf("Networks = %+v, %v", cs, err)
	}
}

func TestCreateReadsTheImageAndSecretRefs(t *testing.T) {
	state := filepath.Join(t.TempDir(), "m.json")
	code, _, errs := run(t, state, "an image archive", "machine", "create", "--name", "m", "--image", "-", "--allow-host", "100.96.0.1",
		"-e", "HOME=/home/agent", "--secret-env", "TOKEN=HOSTVAR", "-w", "/w", "--", "sleep", "infinity")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ms, err := Machines(state)
	if err != nil || len(ms) != 1 {
		t.Fatal(ms, err)
	}
	m := ms[0]
	if m.Image == nil || !strings.HasPrefix(*m.Image, "local:") || m.Archive == "" || !slices.Equal(m.Cmd, []string{"sleep", "infinity"}) ||
		m.Secrets["TOKEN"] != "HOSTVAR" || m.Workdir != "/w" || !slices.Equal(m.Env, []string{"HOME=/home/agent"}) {
		t.Errorf("record %+v", m)
	}
	if data, err := os.ReadFile(m.Archive); err != nil || string(data) != "an image archive" {
		t.Errorf("archive %q, %v", data, err)
	}
	// a secret's value is never in the state file: only its variable's name
	t.Setenv("HOSTVAR", "s3cret")
	if env, err := (&fake{getenv: os.Getenv}).recordEnv(m); err != nil || !slices.Contains(env, "TOKEN=s3cret") {
		t.Errorf("recordEnv = %v, %v", env, err)
	}
	data, _ := os.ReadFile(state)
	if strings.Contains(string(data), "s3cret") {
		t.Error("a secret's value in the state file")
	}
	os.Unsetenv("HOSTVAR")
	if _, err := (&fake{getenv: os.Getenv}).recordEnv(m); err == nil || err.Error() != "config operation failed: resolve secret 'TOKEN': env_unset" {
		t.Errorf("an unset secret: %v", err)
	}
}
