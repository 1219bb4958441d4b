package smolvmfake

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
)

// A machine's guest is a Docker container of its image: the fake's stand-in
// for the microVM and the workload container smolvm's agent runs in it
// (crates/smolvm-agent). Commands go through the docker CLI, which the
// environment points at the engine ($DOCKER_HOST).

// GuestPrefix starts a guest container's name (guestName).
const GuestPrefix = "smolvmfake-"

// guestName is the name of machine's guest container:
// smolvmfake-<machine>.guest. It does not end with the machine's name, so
// the engine's listing never takes it for a bottle of the machine's slug
// under another prefix (a real smolvm makes no container at all).
func guestName(machine string) string { return GuestPrefix + machine + ".guest" }

// guestLabel marks a guest container with its machine's name.
const guestLabel = "smolvmfake.machine"

// execOutputCap is what a buffered exec keeps of each stream
// (smolvm-agent/src/process.rs: 11 MiB; beyond it the exec fails).
const execOutputCap = 11 << 20

func docker(stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.Command("docker", args...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return stdout.Bytes(), fmt.Errorf("%s", strings.Join(strings.Fields(msg), " "))
	}
	return stdout.Bytes(), nil
}

// storeArchive reads an image archive whole (smolvm caches it content-
// addressed, image_source.rs) into the images dir beside the state file.
func (f *fake) storeArchive(r io.Reader) (string, string, error) {
	dir := f.path + ".images"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	tmp, err := os.CreateTemp(dir, "incoming-")
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", "", fmt.Errorf("io operation failed: reading the image from stdin: %v", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dst := filepath.Join(dir, sum+".tar")
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", "", err
	}
	return dst, sum, nil
}

// imageID is the ID of the image an archive holds (its manifest.json's
// Config: "<hex>.json" or "blobs/sha256/<hex>"), as crane export reads it.
func imageID(archive string) (string, error) {
	fh, err := os.Open(archive)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	tr := tar.NewReader(bufio.NewReader(fh))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		if path.Clean(strings.TrimPrefix(h.Name, "./")) != "manifest.json" {
			continue
		}
		var m []struct{ Config string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil || len(m) != 1 {
			return "", fmt.Errorf("manifest.json: %v", err)
		}
		hexID := strings.TrimSuffix(path.Base(m[0].Config), ".json")
		return "sha256:" + hexID, nil
	}
	return "", errors.New("file manifest.json not found in tar")
}

// startGuest runs a machine's workload: the image loaded into the engine
// (once), a container of it made at the first start and started.
func (f *fake) startGuest(m *Record, env []string) (int64, error) {
	if m.Guest == "" {
		id, err := imageID(m.Archive)
		if err != nil {
			return 0, fmt.Errorf("storage operation failed: prepare image: crane export failed: %v (is the image a valid `docker save` / OCI archive?)", err)
		}
		// The machine's own tag holds the image while the machine exists
		// (fakes of parallel tests load the same image): tag it, loading it
		// first when it is not there.
		tag := ImageTag(m.Name)
		if _, err := docker(nil, "tag", id, tag); err != nil {
			fh, err := os.Open(m.Archive)
			if err != nil {
				return 0, err
			}
			_, err = docker(fh, "load")
			fh.Close()
			if err == nil {
				_, err = docker(nil, "tag", id, tag)
			}
			if err != nil {
				return 0, fmt.Errorf("storage operation failed: prepare image: %v", err)
			}
		}
		id = tag
		guest := guestName(m.Name)
		args := []string{"create", "--name", guest, "--label", guestLabel + "=" + m.Name}
		switch m.Network.Backend {
		case "":
			args = append(args, "--network", "none")
		default:
			// The gateway relays host.smolvm.internal:P to the host's
			// 127.0.0.1:P (crates/smolvm-network tcp_relay.rs); on the
			// host's network that is the name's own address.
			args = append(args, "--network", "host", "--add-host", "host.smolvm.internal:127.0.0.1")
		}
		for _, e := range env {
			args = append(args, "-e", e)
		}
		if m.Workdir != "" {
			args = append(args, "-w", m.Workdir)
		}
		for _, v := range m.Volumes {
			args = append(args, "-v", v)
		}
		if len(m.Cmd) > 0 {
			args = append(args, "--entrypoint", m.Cmd[0], id)
			args = append(args, m.Cmd[1:]...)
		} else {
			args = append(args, id)
		}
		if _, err := docker(nil, args...); err != nil {
			return 0, fmt.Errorf("agent operation failed: start workload: %v", err)
		}
		m.Guest = guest
	}
	if _, err := docker(nil, "start", m.Guest); err != nil {
		_, _ = docker(nil, "rm", "-f", m.Guest)
		m.Guest = ""
		return 0, fmt.Errorf("agent operation failed: start workload: %v", err)
	}
	out, err := docker(nil, "inspect", "-f", "{{.State.Pid}}", m.Guest)
	if err != nil {
		return 0, err
	}
	pid, _ := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	return pid, nil
}

// guestsRunning lists the running guests of every fake on the engine.
func guestsRunning() map[string]bool {
	out, err := docker(nil, "ps", "--filter", "label="+guestLabel, "--format", "{{.Names}}")
	running := map[string]bool{}
	if err != nil {
		return running
	}
	for _, n := range strings.Fields(string(out)) {
		running[n] = true
	}
	return running
}

// stopGuest stops a guest as smolvm stops a VM: its agent asked, then
// SIGTERM, SIGKILL a few seconds later (vm_common.rs stop_vm).
func stopGuest(guest string) error {
	if _, err := docker(nil, "stop", "-t", "3", guest); err != nil && !strings.Contains(err.Error(), "No such container") {
		return fmt.Errorf("stopping machine: %v", err)
	}
	return nil
}

// removeGuest removes a machine's guest and its image tag (the image goes
// with its last tag).
func removeGuest(name, guest string) error {
	if guest == "" {
		guest = guestName(name) // a create whose start failed
	}
	if _, err := docker(nil, "rm", "-f", guest); err != nil && !strings.Contains(err.Error(), "No such container") {
		return fmt.Errorf("deleting machine: %v", err)
	}
	if _, err := docker(nil, "rmi", ImageTag(name)); err != nil && !strings.Contains(err.Error(), "No such image") {
		return fmt.Errorf("deleting machine: %v", err)
	}
	return nil
}

// ImageTag is the tag a machine's guest image carries while the machine
// exists: smolvmfake/<name, lower case>.
func ImageTag(machine string) string { return "smolvmfake/" + strings.ToLower(machine) + ":latest" }

// running returns a running machine's record, or smolvm's answer when
// there is none (ensure_running_and_connect: "vm not found", or "is not
// running. Use 'smolvm machine start --name N' first.").
func (f *fake) running(name string) (Record, int, bool) {
	unlock, err := f.lock()
	if err != nil {
		return Record{}, f.fail(err), false
	}
	defer unlock()
	st, err := f.load()
	if err != nil {
		return Record{}, f.fail(err), false
	}
	f.probe(&st)
	_ = f.save(st)
	i := find(&st, name)
	if i < 0 {
		return Record{}, f.notFound(name), false
	}
	m := st.Machines[i]
	if m.State != "running" {
		return m, f.fail(fmt.Errorf("agent operation failed: connect: machine '%s' is not running. Use 'smolvm machine start --name %s' first.", name, name)), false
	}
	if m.Guest == "" {
		return m, f.fail(fmt.Errorf("agent operation failed: the fake smolvm runs commands only in machines made from an image (--image -)")), false
	}
	return m, 0, true
}

// exec copies ExecCmd: --name (no -n) or "default"; -d conflicts with -i,
// -t and --stream; a command is required; the machine must run; env is the
// image's, the record's, its secrets, the exec's --secret-env, then -e
// (KEY alone copies smolvm's own value); the workdir the exec's, else the
// record's. Without -i/-t/--stream output is buffered and printed at the
// end (at most 11 MiB a stream) and stdin is not read; -i streams stdin
// (EOF closes the guest's); -t gives a terminal when stdin is one; -d
// prints a PID and returns. The guest command's exit code is smolvm's;
// --timeout's expiry is 124.
func (f *fake) exec(p parsed) int {
	if p.has("detach") {
		for _, k := range []string{"interactive", "tty", "stream"} {
			if p.has(k) {
				return f.usage(fmt.Sprintf("the argument '--detach' cannot be used with '--%s'", k))
			}
		}
	}
	if len(p.tail) == 0 {
		return f.usage("the following required arguments were not provided:\n  <COMMAND>...")
	}
	var timeout time.Duration
	if t := p.str("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil {
			return f.usage(fmt.Sprintf("invalid value '%s' for '--timeout <DURATION>'", t))
		}
		timeout = d
	}
	name := nameOrDefault(p)
	m, code, ok := f.running(name)
	if !ok {
		return code
	}
	env, err := f.recordEnv(m)
	if err != nil {
		return f.fail(err)
	}
	refs, err := secretRefs(p.vals["secret-env"])
	if err != nil {
		return f.fail(err)
	}
	extra, err := f.secrets(refs)
	if err != nil {
		return f.fail(err)
	}
	env = append(env, extra...)
	for _, e := range p.vals["env"] {
		if !strings.Contains(e, "=") {
			e += "=" + f.getenv(e)
		}
		env = append(env, e)
	}
	args := []string{"exec"}
	interactive, tty := p.has("interactive"), p.has("tty")
	inFile, isFile := f.stdin.(*os.File)
	termIn := isFile && isatty.IsTerminal(inFile.Fd())
	switch {
	case p.has("detach"):
		args = append(args, "-d")
	case tty && termIn:
		args = append(args, "-t")
		if interactive {
			args = append(args, "-i")
		}
	case interactive || tty:
		args = append(args, "-i")
	}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	if w := p.str("workdir"); w != "" {
		args = append(args, "-w", w)
	}
	args = append(append(args, m.Guest), p.tail...)

	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "docker", args...)
	buffered := !interactive && !tty && !p.has("stream") && !p.has("detach")
	var outBuf, errBuf capped
	switch {
	case buffered:
		cmd.Stdout, cmd.Stderr = &outBuf, &errBuf
	case p.has("detach"):
		cmd.Stdout, cmd.Stderr = io.Discard, f.stderr
	default:
		cmd.Stdout, cmd.Stderr = f.stdout, f.stderr
	}
	if interactive || tty {
		cmd.Stdin = f.stdin
	}
	err = cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return 124
	}
	if buffered {
		if outBuf.over || errBuf.over {
			return f.fail(fmt.Errorf("agent operation failed: exec: output exceeds %d bytes", execOutputCap))
		}
		f.stdout.Write(outBuf.Bytes())
		f.stderr.Write(errBuf.Bytes())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		if p.has("detach") {
			// smolvm prints the guest PID; docker exec -d does not say it
			fmt.Fprintln(f.stdout, 0)
		}
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	}
	return f.fail(fmt.Errorf("agent operation failed: exec: %v", err))
}

type capped struct {
	bytes.Buffer
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > execOutputCap {
		c.over = true
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

// cp copies CpCmd: the direction by SRC's first ':' (then DST's); neither
// is an error; --mode/--uid/--gid are for uploads only (v1.9.0+); the
// machine must run. An upload is a regular file written with its mode
// (default 0644) and owner (default root) — missing parent directories
// made root's (crates/smolvm-agent/src/nsfile.rs helper_write); a download
// must be a regular file.
func (f *fake) cp(p parsed) int {
	if len(p.pos) != 2 {
		return f.usage("the following required arguments were not provided:\n  <SRC>\n  <DST>")
	}
	src, dst := p.pos[0], p.pos[1]
	var name, guestPath, local string
	upload := false
	if n, gp, ok := strings.Cut(src, ":"); ok {
		name, guestPath, local = n, gp, dst
	} else if n, gp, ok := strings.Cut(dst, ":"); ok {
		name, guestPath, local, upload = n, gp, src, true
	} else {
		return f.fail(errors.New("config operation failed: cp: one of SRC or DST must use machine:path syntax (e.g., myvm:/workspace/file)"))
	}
	if !upload && (p.has("mode") || p.has("uid") || p.has("gid")) {
		return f.fail(errors.New("config operation failed: cp: --mode/--uid/--gid apply to uploads only (host -> machine)"))
	}
	mode, uid, gid := int64(0o644), 0, 0
	if s := p.str("mode"); s != "" {
		m, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
		if err != nil || m > 0o7777 {
			return f.fail(fmt.Errorf("config operation failed: cp: invalid octal mode '%s' (expected e.g. 644)", s))
		}
		mode = int64(m)
	}
	for k, dst := range map[string]*int{"uid": &uid, "gid": &gid} {
		if s := p.str(k); s != "" {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return f.usage(fmt.Sprintf("invalid value '%s' for '--%s <%s>': invalid digit found in string", s, k, strings.ToUpper(k)))
			}
			*dst = int(n)
		}
	}
	m, code, ok := f.running(name)
	if !ok {
		return code
	}
	if upload {
		data, err := os.ReadFile(local)
		if err != nil {
			return f.fail(fmt.Errorf("agent operation failed: read local file: %s: %v", local, unwrap(err)))
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path.Clean("/"+guestPath), "/"), Mode: mode, Uid: uid, Gid: gid, Size: int64(len(data)), ModTime: time.Now()})
		_, _ = tw.Write(data)
		_ = tw.Close()
		if _, err := docker(&buf, "cp", "-", m.Guest+":/"); err != nil {
			return f.fail(fmt.Errorf("agent operation failed: write file: %v", err))
		}
		return 0
	}
	out, err := docker(nil, "cp", m.Guest+":"+guestPath, "-")
	if err != nil {
		return f.fail(fmt.Errorf("agent operation failed: read file: %v", err))
	}
	tr := tar.NewReader(bytes.NewReader(out))
	h, err := tr.Next()
	if err != nil || h.Typeflag != tar.TypeReg {
		return f.fail(fmt.Errorf("agent operation failed: read file: not a regular file: %s", guestPath))
	}
	data, err := io.ReadAll(tr)
	if err == nil {
		err = os.WriteFile(local, data, 0o644)
	}
	if err != nil {
		return f.fail(fmt.Errorf("io operation failed: %v", err))
	}
	return 0
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
