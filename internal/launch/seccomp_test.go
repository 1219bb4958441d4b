package launch

import (
	"encoding/json"
	"slices"
	"testing"
)

// The profile is one the engine takes (the fields of moby's
// profiles/seccomp types), refuses by default, gives no file a setuid or
// setgid bit through any call that sets a mode, and allows nothing that
// needs a capability or makes a namespace.
func TestSeccompProfile(t *testing.T) {
	var p struct {
		DefaultAction string `json:"defaultAction"`
		Syscalls      []struct {
			Names    []string `json:"names"`
			Action   string   `json:"action"`
			ErrnoRet *uint    `json:"errnoRet"`
			Args     []struct {
				Index    uint   `json:"index"`
				Value    uint64 `json:"value"`
				ValueTwo uint64 `json:"valueTwo"`
				Op       string `json:"op"`
			} `json:"args"`
		} `json:"syscalls"`
	}
	if err := json.Unmarshal(SeccompProfile(), &p); err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != "SCMP_ACT_ERRNO" {
		t.Errorf("default action %s", p.DefaultAction)
	}
	unconditional := map[string]bool{}
	// name -> index -> masks it is allowed under (each rule's only arg)
	filtered := map[string]map[uint][]uint64{}
	seen := map[string]int{}
	for _, r := range p.Syscalls {
		for _, n := range r.Names {
			seen[n]++
			switch {
			case r.Action != "SCMP_ACT_ALLOW":
			case len(r.Args) == 0:
				unconditional[n] = true
			default:
				if filtered[n] == nil {
					filtered[n] = map[uint][]uint64{}
				}
				for _, a := range r.Args {
					if a.Op == "SCMP_CMP_MASKED_EQ" && a.ValueTwo == 0 {
						filtered[n][a.Index] = append(filtered[n][a.Index], a.Value)
					}
				}
			}
		}
	}
	for n, c := range seen {
		if c > 1 && unconditional[n] {
			t.Errorf("%s is allowed unconditionally and has other rules", n)
		}
	}
	for _, c := range []struct {
		name  string
		index uint
	}{{"chmod", 1}, {"fchmod", 1}, {"creat", 1}, {"fchmodat", 2}, {"fchmodat2", 2}, {"mknod", 1}, {"mknodat", 2}, {"open", 2}, {"openat", 3}} {
		if unconditional[c.name] {
			t.Errorf("%s is allowed whatever its mode", c.name)
		}
		if !slices.Contains(filtered[c.name][c.index], 0o6000) {
			t.Errorf("%s: no rule allowing it only without S_ISUID|S_ISGID in argument %d: %v", c.name, c.index, filtered[c.name])
		}
	}
	// open and openat otherwise only when they create nothing
	if !slices.Contains(filtered["open"][1], 0o100|0o20000000) || !slices.Contains(filtered["openat"][2], 0o100|0o20000000) {
		t.Errorf("open/openat flag rules: %v %v", filtered["open"], filtered["openat"])
	}
	for _, n := range []string{"openat2", "io_uring_setup", "io_uring_enter", "io_uring_register", "mount", "umount2", "unshare", "setns",
		"clone3", "ptrace", "process_vm_writev", "bpf", "keyctl", "add_key", "request_key", "init_module", "reboot", "chroot",
		"pivot_root", "open_by_handle_at", "perf_event_open", "userfaultfd", "kexec_load", "settimeofday", "swapon"} {
		if unconditional[n] || len(filtered[n]) > 0 {
			t.Errorf("%s is allowed", n)
		}
	}
	for _, n := range []string{"read", "write", "execve", "futex", "epoll_pwait", "mmap", "rt_sigreturn", "exit_group", "getrandom", "connect"} {
		if !unconditional[n] {
			t.Errorf("%s is not allowed", n)
		}
	}
	if len(filtered["clone"][0]) != 1 || filtered["clone"][0][0]&0x10000000 == 0 {
		t.Errorf("clone is not kept from CLONE_NEWUSER: %v", filtered["clone"])
	}
}

// socket is allowed for every family but AF_VSOCK, whatever the upper 32
// bits of the register hold: the kernel reads an int, the filter the
// whole register. The rule "family != AF_VSOCK" allowed 1<<32|AF_VSOCK,
// which opened a vsock socket (seen on the engine of the test machine).
// Each rule is evaluated as libseccomp does (every comparison of a rule
// holds; any rule allows).
func TestSeccompSocketFamilies(t *testing.T) {
	var p seccompProfile
	if err := json.Unmarshal(SeccompProfile(), &p); err != nil {
		t.Fatal(err)
	}
	allowed := func(family uint64) bool {
		for _, r := range p.Syscalls {
			if !slices.Contains(r.Names, "socket") || r.Action != "SCMP_ACT_ALLOW" {
				continue
			}
			holds := true
			for _, a := range r.Args {
				if a.Index != 0 {
					continue
				}
				switch a.Op {
				case "SCMP_CMP_MASKED_EQ":
					holds = holds && family&a.Value == a.ValueTwo
				case "SCMP_CMP_NE":
					holds = holds && family != a.Value
				case "SCMP_CMP_EQ":
					holds = holds && family == a.Value
				default:
					t.Fatalf("an op this test does not know: %s", a.Op)
				}
			}
			if holds {
				return true
			}
		}
		return false
	}
	for _, high := range []uint64{0, 1 << 32, 0xffffffff00000000} {
		for f := uint64(0); f < 64; f++ {
			if want := f != afVsock; allowed(high|f) != want {
				t.Errorf("socket family %#x: allowed %v, want %v", high|f, !want, want)
			}
		}
	}
}
