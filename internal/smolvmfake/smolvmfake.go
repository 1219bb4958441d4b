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
// "smolvmfake-<name>.guest" of it; exec and cp act in that container (docker exec,
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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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
