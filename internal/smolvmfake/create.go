package smolvmfake

// machine create and start, and what they record: networks, env, secrets.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

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
