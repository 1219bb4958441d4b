package smolvmfake

// machine ls, status, stop and delete, and the machine object they print.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

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
