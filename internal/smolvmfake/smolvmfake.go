// Package smolvmfake is a stand-in `smolvm` for tests: it keeps machines in
// a JSON file and answers the machine commands the toolkit uses with the
// output shapes and exit codes of the real CLI (smol-machines/smolvm v1.9.3,
// and the older string created_at before v0.8.0). The e2e harness registers
// it as the command `smolvm`, so scripts find it on PATH.
//
// Commands (`vm` is an alias of `machine`, `list` of `ls`, `rm` of `delete`):
//
//	smolvm machine ls [--json]               pretty-printed JSON array, [] when empty
//	smolvm machine stop [--name X]           "is not running" (exit 0) when stopped
//	smolvm machine delete --name X [-f]      without -f: prompt on stderr, EOF = "Cancelled", exit 0
//	smolvm machine create --name X           (fake-only flags: --state S, --pid N, --created UNIX)
//	smolvm machine start [--name X]
//
// A missing machine is `Error: vm not found: X` on stderr, exit 1; usage
// errors exit 2. Environment:
//
//	SMOLVM_FAKE_STATE  the machines file (required; a missing file is no machines)
//	SMOLVM_FAKE_OLD=1  print created_at as a string, as releases before v0.8.0 did
//	SMOLVM_FAKE_FAIL   comma-separated [COMMAND=]MODE: MODE is exit (exit 1 with an
//	                   error), garbage (exit 0, stdout not JSON), hang (never
//	                   answer) or vanish (the --name machine is deleted just
//	                   before the command runs, as by a concurrent delete);
//	                   COMMAND (ls, stop, delete, …) limits it to that command
//
// Every call is appended to $SMOLVM_FAKE_STATE.log, one line of arguments.
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
	EnvState = "SMOLVM_FAKE_STATE"
	EnvOld   = "SMOLVM_FAKE_OLD"
	EnvFail  = "SMOLVM_FAKE_FAIL"
)

// Record is one machine in the state file.
type Record struct {
	Name      string            `json:"name"`
	State     string            `json:"state"`
	PID       *int64            `json:"pid"`
	CreatedAt int64             `json:"created_at"`
	Image     *string           `json:"image"`
	Labels    map[string]string `json:"labels"`
}

// State is the machines file.
type State struct {
	// LastCreated keeps created_at strictly increasing, so a machine made
	// again under the same name is always told apart.
	LastCreated int64    `json:"last_created"`
	Machines    []Record `json:"machines"`
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
	if len(args) < 2 || (args[0] != "machine" && args[0] != "vm") {
		return f.usage("expected `machine <COMMAND>` (the fake knows only machine commands)")
	}
	cmd := args[1]
	switch cmd {
	case "list":
		cmd = "ls"
	case "rm":
		cmd = "delete"
	}
	mode := f.mode(cmd)
	if code, failing := f.injected(mode); failing {
		return code
	}
	fl, err := parseFlags(args[2:])
	if err != nil {
		return f.usage(err.Error())
	}
	unlock, err := f.lock()
	if err != nil {
		return f.fail(err)
	}
	defer unlock()
	if mode == "vanish" {
		if st, err := f.load(); err == nil {
			if i := find(&st, fl.name); i >= 0 {
				st.Machines = append(st.Machines[:i], st.Machines[i+1:]...)
				_ = f.save(st)
			}
		}
	}
	switch cmd {
	case "ls":
		return f.ls(fl)
	case "stop":
		return f.stop(fl)
	case "delete":
		return f.del(fl)
	case "create":
		return f.create(fl)
	case "start":
		return f.start(fl)
	}
	return f.usage(fmt.Sprintf("unrecognized subcommand '%s'", args[1]))
}

type flagSet struct {
	name, state, pid, created, image string
	json, force                      bool
}

// parseFlags reads the few flags the fake knows, clap-style: --name X,
// --name=X, -n X; positional names are refused (smolvm v1.0.2 and later).
func parseFlags(args []string) (flagSet, error) {
	var fl flagSet
	for i := 0; i < len(args); i++ {
		a := args[i]
		key, val, hasVal := strings.Cut(a, "=")
		str := map[string]*string{"--name": &fl.name, "-n": &fl.name, "--state": &fl.state, "--pid": &fl.pid, "--created": &fl.created, "--image": &fl.image, "-I": &fl.image}
		if p, ok := str[key]; ok {
			if !hasVal {
				if i+1 >= len(args) {
					return fl, fmt.Errorf("a value is required for '%s <NAME>' but none was supplied", key)
				}
				i++
				val = args[i]
			}
			*p = val
			continue
		}
		switch a {
		case "--json":
			fl.json = true
		case "-f", "--force":
			fl.force = true
		case "-v", "--verbose":
		default:
			return fl, fmt.Errorf("unexpected argument '%s' found", a)
		}
	}
	return fl, nil
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

func (f *fake) fail(err error) int {
	fmt.Fprintf(f.stderr, "Error: %v\n", err)
	return 1
}

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

// ls prints what `machine ls --json` prints: every field of the real
// object (serde_json sorts keys), created_at an integer or, with
// SMOLVM_FAKE_OLD, a string.
func (f *fake) ls(fl flagSet) int {
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	if !fl.json {
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
		var created any = m.CreatedAt
		if f.getenv(EnvOld) == "1" {
			created = strconv.FormatInt(m.CreatedAt, 10)
		}
		labels := m.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		out = append(out, map[string]any{
			"name": m.Name, "state": m.State, "pid": m.PID, "created_at": created, "image": m.Image, "labels": labels,
			"cpus": 4, "memory_mib": 8192, "mounts": 1, "ports": 0, "storage_gb": nil, "overlay_gb": nil,
			"entrypoint": []string{}, "cmd": []string{}, "ephemeral": false, "gpu": false, "gpu_vram_mib": nil,
			"cuda": false, "forkable": false, "forkpoint_held": false, "network": true,
			"restart_policy": "never", "restart_max_retries": 0, "restart_count": 0, "health_cmd": nil,
		})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return f.fail(err)
	}
	fmt.Fprintln(f.stdout, string(b))
	return 0
}

func nameOrDefault(fl flagSet) string {
	if fl.name == "" {
		return "default"
	}
	return fl.name
}

func (f *fake) stop(fl flagSet) int {
	name := nameOrDefault(fl)
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
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
	m.State, m.PID = "stopped", nil
	if err := f.save(st); err != nil {
		return f.fail(err)
	}
	fmt.Fprintf(f.stdout, "Stopped machine: %s\n", name)
	return 0
}

func (f *fake) del(fl flagSet) int {
	if fl.name == "" {
		return f.usage("the following required arguments were not provided:\n  --name <NAME>")
	}
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	i := find(&st, fl.name)
	if i < 0 {
		return f.notFound(fl.name)
	}
	if st.Machines[i].State == "running" {
		fmt.Fprintf(f.stdout, "Stopping machine '%s'...\n", fl.name)
	}
	if !fl.force {
		fmt.Fprintf(f.stderr, "Delete machine '%s'? [y/N] ", fl.name)
		line, err := bufio.NewReader(f.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); (err != nil && line == "") || (a != "y" && a != "yes") {
			fmt.Fprintln(f.stdout, "Cancelled")
			return 0
		}
	}
	st.Machines = append(st.Machines[:i], st.Machines[i+1:]...)
	if err := f.save(st); err != nil {
		return f.fail(err)
	}
	fmt.Fprintf(f.stdout, "Deleted machine: %s\n", fl.name)
	return 0
}

func (f *fake) create(fl flagSet) int {
	if fl.name == "" {
		return f.usage("the following required arguments were not provided:\n  --name <NAME>")
	}
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	if find(&st, fl.name) >= 0 {
		return f.fail(fmt.Errorf("machine '%s' already exists", fl.name))
	}
	created := time.Now().Unix()
	if fl.created != "" {
		if created, err = strconv.ParseInt(fl.created, 10, 64); err != nil {
			return f.usage("--created: " + err.Error())
		}
	} else if created <= st.LastCreated {
		created = st.LastCreated + 1
	}
	st.LastCreated = max(st.LastCreated, created)
	m := Record{Name: fl.name, State: "created", CreatedAt: created}
	if fl.state != "" {
		m.State = fl.state
	}
	if fl.pid != "" {
		pid, err := strconv.ParseInt(fl.pid, 10, 64)
		if err != nil {
			return f.usage("--pid: " + err.Error())
		}
		m.PID = &pid
	}
	if fl.image != "" {
		m.Image = &fl.image
	}
	st.Machines = append(st.Machines, m)
	if err := f.save(st); err != nil {
		return f.fail(err)
	}
	fmt.Fprintf(f.stdout, "Created machine: %s\n", fl.name)
	return 0
}

func (f *fake) start(fl flagSet) int {
	name := nameOrDefault(fl)
	st, err := f.load()
	if err != nil {
		return f.fail(err)
	}
	i := find(&st, name)
	if i < 0 {
		return f.notFound(name)
	}
	pid := int64(40000 + i)
	st.Machines[i].State, st.Machines[i].PID = "running", &pid
	if err := f.save(st); err != nil {
		return f.fail(err)
	}
	fmt.Fprintf(f.stdout, "Started machine: %s\n", name)
	return 0
}
