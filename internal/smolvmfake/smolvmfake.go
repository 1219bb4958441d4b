// Package smolvmfake is a stand-in `smolvm` for tests: it keeps machines in
// a JSON file and answers the machine commands the toolkit uses with the
// flag surface, messages, state transitions and exit codes of the real CLI
// (smol-machines/smolvm v1.9.3; each rule names the source it copies), and
// the older string created_at before v0.8.0. The e2e harness registers it
// as the command `smolvm`, so scripts find it on PATH.
//
// Commands (`vm` is an alias of `machine`, `list` of `ls`, `rm` of `delete`):
//
//	smolvm --version                         "smolvm 1.9.3" ($SMOLVM_FAKE_VERSION)
//	smolvm machine ls [--json]               pretty-printed JSON array, [] when empty
//	smolvm machine status [--name X] [--json]
//	smolvm machine create --name X [...] [-- CMD...]
//	                                         the create flags bottle-launch uses and their
//	                                         checks (name rules, labels, network flags);
//	                                         fake-only: --state S, --pid N, --created UNIX
//	smolvm machine start [--name X]          "already running" (exit 0) when running
//	smolvm machine stop [--name X]           "is not running" (exit 0) when stopped
//	smolvm machine delete --name X [-f]      without -f: prompt on stderr, EOF = "Cancelled", exit 0
//	smolvm machine exec [--name X] [-i] [-t] [-d] [-w D] [-e K[=V]] [--secret-env G=H] [--timeout T] [--] CMD...
//	smolvm machine cp SRC DST [--mode M] [--uid U] [--gid G]
//
// A machine made from an image (`--image -`: a `docker save` archive on
// stdin) has a guest: at its first start the fake loads the archive into the
// Docker engine and runs the machine's workload in a container
// "smolvmfake-<name>" of it; exec and cp act in that container (docker exec,
// docker cp), with the exit code passed through. The guest's network is the
// host's for a machine with a network (the gateway's name host.smolvm.internal
// is the host's 127.0.0.1, which smolvm's gateway relays to), none without:
// the fake does not enforce a machine's allow-list; it records the network
// each machine was given (Network), so tests can check it. A machine made
// without an image (the fake's seeding) has no guest: start and stop only
// change its state.
//
// A missing machine is `Error: vm not found: X` on stderr, exit 1; other
// errors `Error: ...`, exit 1; usage errors exit 2. Environment:
//
//	SMOLVM_FAKE_STATE    the machines file (required; a missing file is no machines)
//	SMOLVM_FAKE_OLD=1    print created_at as a string, as releases before v0.8.0 did
//	SMOLVM_FAKE_VERSION  the version --version prints (default 1.9.3)
//	SMOLVM_FAKE_FAIL     comma-separated [COMMAND=]MODE: MODE is exit (exit 1 with an
//	                     error), garbage (exit 0, stdout not JSON), hang (never
//	                     answer) or vanish (the --name machine is deleted just
//	                     before the command runs, as by a concurrent delete);
//	                     COMMAND (ls, stop, delete, create, start, exec, cp, version, …)
//	                     limits it to that command
//
// Every call is appended to $SMOLVM_FAKE_STATE.log, one line of arguments;
// every machine created, with its network, to $SMOLVM_FAKE_STATE.networks.
package smolvmfake

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Env names.
const (
	EnvState   = "SMOLVM_FAKE_STATE"
	EnvOld     = "SMOLVM_FAKE_OLD"
	EnvFail    = "SMOLVM_FAKE_FAIL"
	EnvVersion = "SMOLVM_FAKE_VERSION"
)

// Version is the release the fake copies.
const Version = "1.9.3"

// Record is one machine in the state file.
type Record struct {
	Name      string            `json:"name"`
	State     string            `json:"state"`
	PID       *int64            `json:"pid"`
	CreatedAt int64             `json:"created_at"`
	Image     *string           `json:"image"`
	Labels    map[string]string `json:"labels"`

	// What create recorded (smolvm's VmRecord): env given with -e (kept
	// in plain text), secret references (--secret-env GUEST=HOSTVAR: the
	// variable's name only), workdir, volumes, the network, the workload.
	Env     []string          `json:"env,omitempty"`
	Secrets map[string]string `json:"secret_env,omitempty"`
	Workdir string            `json:"workdir,omitempty"`
	Volumes []string          `json:"volumes,omitempty"`
	Network Network           `json:"network"`
	Cmd     []string          `json:"cmd,omitempty"`
	// Archive is the image archive read at create (under the state file's
	// images dir); Guest the container its workload runs in once started.
	Archive string `json:"archive,omitempty"`
	Guest   string `json:"guest,omitempty"`
}

// State is the machines file.
type State struct {
	// LastCreated keeps created_at strictly increasing, so a machine made
	// again under the same name is always told apart.
	LastCreated int64    `json:"last_created"`
	Machines    []Record `json:"machines"`
}

// Machines reads a state file: the machines a test's fake holds.
func Machines(path string) ([]Record, error) {
	st, err := (&fake{path: path}).load()
	return st.Machines, err
}

// Main runs the fake with the process's arguments and streams.
func Main() int { return Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv) }

type fake struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	path           string
}

// Run runs one smolvm command and returns its exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	f := &fake{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, path: getenv(EnvState)}
	if f.path == "" {
		return f.fail(fmt.Errorf("%s is not set (the fake smolvm keeps its machines there)", EnvState))
	}
	f.log(args)
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-V") {
		if code, failing := f.injected(f.mode("version")); failing {
			return code
		}
		v := getenv(EnvVersion)
		if v == "" {
			v = Version
		}
		fmt.Fprintf(f.stdout, "smolvm %s\n", v)
		return 0
	}
	if len(args) < 2 || (args[0] != "machine" && args[0] != "vm") {
		return f.usage("expected `machine <COMMAND>` (the fake knows only machine commands and --version)")
	}
	cmd := args[1]
	switch cmd {
	case "list":
		cmd = "ls"
	case "rm":
		cmd = "delete"
	}
	def, known := commands[cmd]
	if !known {
		return f.usage(fmt.Sprintf("unrecognized subcommand '%s'", args[1]))
	}
	mode := f.mode(cmd)
	if code, failing := f.injected(mode); failing {
		return code
	}
	p, err := parse(def, args[2:])
	if err != nil {
		return f.usage(err.Error())
	}
	if mode == "vanish" {
		unlock, err := f.lock()
		if err != nil {
			return f.fail(err)
		}
		if st, err := f.load(); err == nil {
			if i := find(&st, p.str("name")); i >= 0 {
				st.Machines = append(st.Machines[:i], st.Machines[i+1:]...)
				_ = f.save(st)
			}
		}
		unlock()
	}
	switch cmd {
	case "exec":
		return f.exec(p)
	case "cp":
		return f.cp(p)
	}
	unlock, err := f.lock()
	if err != nil {
		return f.fail(err)
	}
	defer unlock()
	switch cmd {
	case "ls":
		return f.ls(p)
	case "status":
		return f.status(p)
	case "stop":
		return f.stop(p)
	case "delete":
		return f.del(p)
	case "create":
		return f.create(p)
	default: // start
		return f.start(p)
	}
}

// mode returns the SMOLVM_FAKE_FAIL mode for cmd, or "".
func (f *fake) mode(cmd string) string {
	for _, spec := range strings.Split(f.getenv(EnvFail), ",") {
		spec = strings.TrimSpace(spec)
		if c, m, ok := strings.Cut(spec, "="); ok {
			if c == cmd {
				return m
			}
		} else if spec != "" {
			return spec
		}
	}
	return ""
}

// injected fails the command as mode says.
func (f *fake) injected(mode string) (int, bool) {
	switch mode {
	case "", "vanish":
		return 0, false
	case "exit":
		fmt.Fprintln(f.stderr, "Error: database error: database is locked")
		return 1, true
	case "garbage":
		fmt.Fprintln(f.stdout, "NAME   STATE\nthis is not JSON {")
		return 0, true
	case "hang":
		for {
			time.Sleep(time.Hour)
		}
	}
	fmt.Fprintf(f.stderr, "smolvmfake: unknown %s mode %q (exit, garbage, hang, vanish)\n", EnvFail, mode)
	return 99, true
}

// fail prints smolvm's error line (main.rs: eprintln!("Error: {}", e);
// exit(1)).
func (f *fake) fail(err error) int {
	fmt.Fprintf(f.stderr, "Error: %v\n", err)
	return 1
}

// usage prints a clap usage error (exit 2).
func (f *fake) usage(msg string) int {
	fmt.Fprintf(f.stderr, "error: %s\n\nUsage: smolvm machine <COMMAND>\n\nFor more information, try '--help'.\n", msg)
	return 2
}

func (f *fake) log(args []string) {
	lf, err := os.OpenFile(f.path+".log", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer lf.Close()
	fmt.Fprintln(lf, strings.Join(args, " "))
}

func (f *fake) lock() (func(), error) {
	lf, err := os.OpenFile(f.path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		lf.Close()
		return nil, err
	}
	return func() { lf.Close() }, nil
}

func (f *fake) load() (State, error) {
	var st State
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("fake state %s: %v", f.path, err)
	}
	return st, nil
}

func (f *fake) save(st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, f.path)
}

func find(st *State, name string) int {
	for i := range st.Machines {
		if st.Machines[i].Name == name {
			return i
		}
	}
	return -1
}

func (f *fake) notFound(name string) int { return f.fail(fmt.Errorf("vm not found: %s", name)) }

func nameOrDefault(p parsed) string {
	if n := p.str("name"); n != "" {
		return n
	}
	return "default"
}

// object is one machine as `machine ls --json` and `status --json` print it
// (vm_common.rs machine_status_json: every field of the real object;
// serde_json sorts keys), created_at an integer or, with SMOLVM_FAKE_OLD, a
// string.
func (f *fake) object(m Record) map[string]any {
	var created any = m.CreatedAt
	if f.getenv(EnvOld) == "1" {
		created = strconv.FormatInt(m.CreatedAt, 10)
	}
	labels := m.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	cmd := m.Cmd
	if cmd == nil {
		cmd = []string{}
	}
	return map[string]any{
		"name": m.Name, "state": m.State, "pid": m.PID, "created_at": created, "image": m.Image, "labels": labels,
		"cpus": 4, "memory_mib": 8192, "mounts": len(m.Volumes), "ports": len(m.Network.Ports), "storage_gb": nil, "overlay_gb": nil,
		"entrypoint": []string{}, "cmd": cmd, "ephemeral": false, "gpu": false, "gpu_vram_mib": nil,
		"cuda": false, "forkable": false, "forkpoint_held": false, "network": m.Network.Backend != "",
		"restart_policy": "never", "restart_max_retries": 0, "restart_count": 0, "health_cmd": nil,
	}
}

// probe updates the state of machines whose guest stopped on its own: smolvm
// probes a machine's state live (PID and a vsock ping).
func (f *fake) probe(st *State) {
	var guests []string
	for _, m := range st.Machines {
		if m.Guest != "" && m.State == "running" {
			guests = append(guests, m.Guest)
		}
	}
	if len(guests) == 0 {
		return
	}
	running := guestsRunning()
	for i := range st.Machines {
		m := &st.Machines[i]
		if m.Guest != "" && m.State == "running" && !running[m.Guest] {
			m.State, m.PID = "stopped", nil
		}
	}
}

func (f *fake) ls(p parsed) int {
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	f.probe(&st)
	if !p.has("json") {
		if len(st.Machines) == 0 {
			fmt.Fprintln(f.stdout, "No machines found")
			return 0
		}
		fmt.Fprintf(f.stdout, "%-20s %-12s\n", "NAME", "STATE")
		for _, m := range st.Machines {
			fmt.Fprintf(f.stdout, "%-20s %-12s\n", m.Name, m.State)
		}
		return 0
	}
	if len(st.Machines) == 0 {
		fmt.Fprintln(f.stdout, "[]")
		return 0
	}
	out := make([]map[string]any, 0, len(st.Machines))
	for _, m := range st.Machines {
		out = append(out, f.object(m))
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return f.fail(err)
	}
	fmt.Fprintln(f.stdout, string(b))
	return 0
}

// status copies `machine status`: text "Machine 'N': running (PID: n)" or
// the state; --json one ls object; an unknown name is "vm not found" in
// text mode and "machine status: machine 'N' not found" with --json.
func (f *fake) status(p parsed) int {
	name := nameOrDefault(p)
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	f.probe(&st)
	i := find(&st, name)
	switch {
	case i < 0 && p.has("json"):
		return f.fail(fmt.Errorf("config operation failed: machine status: machine '%s' not found", name))
	case i < 0:
		return f.notFound(name)
	case p.has("json"):
		b, _ := json.MarshalIndent(f.object(st.Machines[i]), "", "  ")
		fmt.Fprintln(f.stdout, string(b))
	case st.Machines[i].State == "running" && st.Machines[i].PID != nil:
		fmt.Fprintf(f.stdout, "Machine '%s': running (PID: %d)\n", name, *st.Machines[i].PID)
	default:
		fmt.Fprintf(f.stdout, "Machine '%s': %s\n", name, st.Machines[i].State)
	}
	return 0
}

// stop copies stop_vm (vm_common.rs): a machine that is not running is
// "is not running (state: S)", exit 0; a running one stops ("Stopping
// machine 'N'..." then "Stopped machine: N").
func (f *fake) stop(p parsed) int {
	name := nameOrDefault(p)
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	f.probe(&st)
	i := find(&st, name)
	if i < 0 {
		return f.notFound(name)
	}
	m := &st.Machines[i]
	if m.State != "running" && m.State != "unreachable" && m.State != "frozen" {
		fmt.Fprintf(f.stdout, "Machine '%s' is not running (state: %s)\n", name, m.State)
		return 0
	}
	fmt.Fprintf(f.stdout, "Stopping machine '%s'...\n", name)
	if m.Guest != "" {
		if err := stopGuest(m.Guest); err != nil {
			return f.fail(err)
		}
	}
	m.State, m.PID = "stopped", nil
	if err := f.save(st); err != nil {
		return f.fail(err)
	}
	fmt.Fprintf(f.stdout, "Stopped machine: %s\n", name)
	return 0
}

// del copies delete_vm: --name required; a running machine is stopped
// first; without -f a prompt on stdin, anything but y/yes (EOF too) is
// "Cancelled", exit 0, nothing deleted.
func (f *fake) del(p parsed) int {
	name := p.str("name")
	if name == "" {
		return f.usage("the following required arguments were not provided:\n  --name <NAME>")
	}
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	f.probe(&st)
	i := find(&st, name)
	if i < 0 {
		return f.notFound(name)
	}
	m := st.Machines[i]
	if m.State == "running" {
		fmt.Fprintf(f.stdout, "Stopping machine '%s'...\n", name)
	}
	if !p.has("force") {
		fmt.Fprintf(f.stderr, "Delete machine '%s'? [y/N] ", name)
		line, err := bufio.NewReader(f.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); (err != nil && line == "") || (a != "y" && a != "yes") {
			fmt.Fprintln(f.stdout, "Cancelled")
			return 0
		}
	}
	if m.Archive != "" {
		if err := removeGuest(m.Name, m.Guest); err != nil {
			return f.fail(err)
		}
	}
	st.Machines = append(st.Machines[:i], st.Machines[i+1:]...)
	if err := f.save(st); err != nil {
		return f.fail(err)
	}
	fmt.Fprintf(f.stdout, "Deleted machine: %s\n", name)
	return 0
}

// create copies create_vm and build_vm_record: the name's rules, labels
// (KEY=VALUE, last wins), the network's checks, an image on stdin read
// whole (`--image -`; the record's image is local:<sha256>), volumes (an
// existing host directory, an absolute guest path), a duplicate refused;
// printing "Created machine: N".
func (f *fake) create(p parsed) int {
	if len(p.pos) > 0 {
		return f.usage(fmt.Sprintf("unexpected argument '%s' found", p.pos[0]))
	}
	name := p.str("name")
	if name == "" {
		// smolvm makes up vm-xxxxxxxx; the toolkit always names its machines
		return f.usage("the fake needs --name")
	}
	if err := validName(name); err != nil {
		return f.fail(fmt.Errorf("config operation failed: validate machine name: %v", err))
	}
	labels := map[string]string{}
	for _, kv := range p.vals["label"] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return f.fail(fmt.Errorf("config operation failed: --label: expected KEY=VALUE, got '%s'", kv))
		}
		labels[k] = v
	}
	netw, err := planNetwork(p)
	var ue *usageError
	switch {
	case errors.As(err, &ue):
		return f.usage(ue.msg)
	case err != nil:
		return f.fail(err)
	}
	image := p.str("image")
	local := image == "-" || strings.HasPrefix(image, "/") || strings.HasPrefix(image, "./") || strings.HasPrefix(image, "../") ||
		strings.HasSuffix(image, ".tar") || strings.HasSuffix(image, ".tar.gz") || strings.HasSuffix(image, ".tgz")
	if image != "" && !local && netw.Backend == "" {
		return f.fail(fmt.Errorf("config operation failed: create machine: image '%s' must be pulled from a registry, but this machine has no network (add --net, or load it locally: docker save %s | smolvm machine create --image - ...)", image, image))
	}
	for _, v := range p.vals["volume"] {
		host, guest, err := splitVolume(v)
		if err != nil {
			return f.fail(err)
		}
		if fi, err := os.Stat(host); err != nil {
			return f.fail(fmt.Errorf("mount source not found: %s", host))
		} else if !fi.IsDir() {
			return f.fail(fmt.Errorf("invalid mount path: source path on host must be a directory: %s", host))
		}
		if !strings.HasPrefix(guest, "/") {
			return f.fail(fmt.Errorf("invalid mount path: guest path must be absolute: %s", guest))
		}
	}
	secrets, err := secretRefs(p.vals["secret-env"])
	if err != nil {
		return f.fail(err)
	}
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	if find(&st, name) >= 0 {
		return f.fail(fmt.Errorf("config operation failed: create machine: machine '%s' already exists or is being created", name))
	}
	m := Record{Name: name, State: "created", Labels: labels, Network: netw, Workdir: p.str("workdir"), Volumes: p.vals["volume"], Cmd: p.tail}
	if len(secrets) > 0 {
		m.Secrets = secrets
	}
	for _, e := range p.vals["env"] {
		if !strings.Contains(e, "=") {
			// -e KEY copies the value from smolvm's own environment (util.rs)
			e += "=" + f.getenv(e)
		}
		m.Env = append(m.Env, e)
	}
	if image == "-" {
		archive, sum, err := f.storeArchive(f.stdin)
		if err != nil {
			return f.fail(err)
		}
		m.Archive = archive
		ref := "local:" + sum
		m.Image = &ref
	} else if image != "" {
		m.Image = &image
	}
	created := time.Now().Unix()
	if c := p.str("created"); c != "" {
		if created, err = strconv.ParseInt(c, 10, 64); err != nil {
			return f.usage("--created: " + err.Error())
		}
	} else if created <= st.LastCreated {
		created = st.LastCreated + 1
	}
	st.LastCreated = max(st.LastCreated, created)
	m.CreatedAt = created
	if s := p.str("state"); s != "" {
		m.State = s
	}
	if s := p.str("pid"); s != "" {
		pid, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return f.usage("--pid: " + err.Error())
		}
		m.PID = &pid
	}
	st.Machines = append(st.Machines, m)
	if err := f.save(st); err != nil {
		return f.fail(err)
	}
	if err := f.recordNetwork(m); err != nil {
		return f.fail(err)
	}
	fmt.Fprintf(f.stdout, "Created machine: %s\n  CPUs: 4, Memory: 8192 MiB\n", name)
	return 0
}

// Created is one machine the fake ever created, with its network: a line
// of $SMOLVM_FAKE_STATE.networks, kept after the machine is deleted.
type Created struct {
	Name    string  `json:"name"`
	Network Network `json:"network"`
}

func (f *fake) recordNetwork(m Record) error {
	line, err := json.Marshal(Created{Name: m.Name, Network: m.Network})
	if err != nil {
		return err
	}
	lf, err := os.OpenFile(f.path+".networks", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	_, err = lf.Write(append(line, '\n'))
	return err
}

// Networks reads every machine a fake with state file path ever created,
// with the network each was given, in order.
func Networks(path string) ([]Created, error) {
	data, err := os.ReadFile(path + ".networks")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Created
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		var c Created
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			return nil, fmt.Errorf("%s.networks: %v", path, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// splitVolume reads HOST:GUEST[:ro|:rw] from the right (storage.rs).
func splitVolume(v string) (host, guest string, err error) {
	s := strings.TrimSuffix(strings.TrimSuffix(v, ":ro"), ":rw")
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return "", "", fmt.Errorf("invalid mount path: expected HOST:GUEST[:ro], got '%s'", v)
	}
	return s[:i], s[i+1:], nil
}

// start copies start_vm: an unknown name is "vm not found"; a running
// machine is "already running (PID: n)", exit 0; a first start of an image
// machine loads its image and runs its workload (the `--` command, else the
// image's ENTRYPOINT and CMD); a workload that cannot start stops the
// machine and fails; secrets a workload needs must be in the environment.
// "Machine 'N' running (PID: n)" on stdout.
func (f *fake) start(p parsed) int {
	name := nameOrDefault(p)
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	f.probe(&st)
	i := find(&st, name)
	if i < 0 {
		return f.notFound(name)
	}
	m := &st.Machines[i]
	if m.State == "running" {
		pid := int64(0)
		if m.PID != nil {
			pid = *m.PID
		}
		fmt.Fprintf(f.stdout, "Machine '%s' already running (PID: %d)\n", name, pid)
		return 0
	}
	fmt.Fprintf(f.stderr, "Starting machine '%s'...\n", name)
	pid := int64(40000 + i)
	if m.Archive != "" {
		env, err := f.recordEnv(*m)
		if err != nil {
			return f.fail(err)
		}
		gpid, err := f.startGuest(m, env)
		if err != nil {
			m.State = "stopped"
			_ = f.save(st)
			return f.fail(err)
		}
		pid = gpid
	}
	m.State, m.PID = "running", &pid
	if err := f.save(st); err != nil {
		return f.fail(err)
	}
	fmt.Fprintf(f.stdout, "Machine '%s' running (PID: %d)\n", name, pid)
	return 0
}

// secretRefs reads --secret-env GUEST_VAR=HOST_VAR values.
func secretRefs(vals []string) (map[string]string, error) {
	refs := map[string]string{}
	for _, s := range vals {
		g, h, ok := strings.Cut(s, "=")
		if !ok || g == "" || h == "" {
			return nil, fmt.Errorf("config operation failed: --secret-env: expected GUEST_VAR=HOST_VAR, got '%s'", s)
		}
		refs[g] = h
	}
	return refs, nil
}

// recordEnv is a machine's env at start and exec (record_env_with_secrets):
// the -e values, then each secret resolved from the environment now (an
// unset variable fails: "resolve secret 'G': env_unset").
func (f *fake) recordEnv(m Record) ([]string, error) {
	env := append([]string(nil), m.Env...)
	extra, err := f.secrets(m.Secrets)
	return append(env, extra...), err
}

func (f *fake) secrets(refs map[string]string) ([]string, error) {
	var env []string
	for g, h := range refs {
		v, ok := lookup(f.getenv, h)
		if !ok {
			return nil, fmt.Errorf("config operation failed: resolve secret '%s': env_unset", g)
		}
		env = append(env, g+"="+v)
	}
	return env, nil
}

// lookup tells an unset variable from an empty one where it can (the
// process's own environment); getenv alone cannot.
func lookup(getenv func(string) string, k string) (string, bool) {
	if v := getenv(k); v != "" {
		return v, true
	}
	return os.LookupEnv(k)
}
