package launch

import (
	"encoding/json"
	"sort"
)

// The agent's seccomp profile: which system calls it may make. Dropping
// every capability does not keep a process from setting the setuid or
// setgid bit on a file it owns (no capability is needed for that), and
// the workspace is the host's own directory: a setuid-root file an agent
// run as root planted there would run as root for any user of the host
// once the bottle is gone (a setgid or setuid file of the default user,
// as that user). So the profile refuses every call that would give a
// file either bit: chmod, fchmod, fchmodat (and fchmodat2) with them in
// the mode, a file created (open, openat, creat, mknod, mknodat) with
// them. openat2, whose mode sits in a struct no filter can read, answers
// ENOSYS, so C libraries fall back to openat; io_uring, which opens files
// outside any filter, is not allowed at all.
//
// The engine takes a profile whole (Docker's own default is not
// reachable through its API), so this is a complete one, an allow list
// no wider than Docker's default profile (moby profiles/seccomp) for a
// container without capabilities: the calls that need one (mount, bpf,
// ptrace, reboot, module loading, setting the clock...) are left out,
// as are unshare, setns and clone or clone3 with namespace flags (no new
// user namespace to gain capabilities in), keyctl, add_key and
// request_key (keyrings are not namespaced), personality but for the
// usual values, sockets of AF_VSOCK (the host's hypervisor sockets).
// Anything not listed fails with EPERM.

// Mode bits and open flags the filters look at (Linux: x86 and arm).
const (
	setIDBits = 0o6000     // S_ISUID | S_ISGID
	oCreat    = 0o100      // O_CREAT
	oTmpfile  = 0o20000000 // __O_TMPFILE (O_TMPFILE without O_DIRECTORY)
	enosys    = 38
	afVsock   = 40
)

// seccompAllowed are the system calls the agent may always make, by what
// they are for.
var seccompAllowed = [][]string{
	// files and directories (no mode-setting call: those are filtered)
	{"access", "faccessat", "faccessat2", "chdir", "fchdir", "getcwd", "close", "close_range",
		"dup", "dup2", "dup3", "fcntl", "fcntl64", "flock", "read", "readv", "pread64", "preadv", "preadv2",
		"write", "writev", "pwrite64", "pwritev", "pwritev2", "lseek", "_llseek",
		"stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64", "newfstatat", "statx",
		"statfs", "statfs64", "fstatfs", "fstatfs64", "getdents", "getdents64",
		"mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2", "link", "linkat",
		"symlink", "symlinkat", "unlink", "unlinkat", "readlink", "readlinkat",
		"truncate", "truncate64", "ftruncate", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "readahead",
		"fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "copy_file_range", "sendfile", "sendfile64",
		"splice", "tee", "vmsplice", "umask", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
		"chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
		"getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
		"setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
		"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
		"name_to_handle_at", "memfd_create", "pipe", "pipe2", "ioctl",
		"io_setup", "io_submit", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_cancel", "io_destroy"},
	// processes, threads and credentials (dropping privileges only: no
	// capability means no gaining any)
	{"execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "waitpid",
		"getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid",
		"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
		"getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32",
		"setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32",
		"setresuid", "setresuid32", "setresgid", "setresgid32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32",
		"setgroups", "setgroups32", "capget", "capset", "prctl", "arch_prctl", "seccomp",
		"getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "getpriority", "setpriority",
		"ioprio_get", "ioprio_set", "sched_yield", "sched_getaffinity", "sched_setaffinity",
		"sched_getattr", "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
		"sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "sched_rr_get_interval_time64",
		"set_tid_address", "set_robust_list", "get_robust_list", "set_thread_area", "get_thread_area", "rseq",
		"futex", "futex_time64", "futex_waitv", "membarrier", "getcpu", "uname", "sysinfo", "getrandom",
		"pidfd_open", "pidfd_send_signal", "restart_syscall", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"},
	// memory
	{"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync",
		"mlock", "mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages",
		"pkey_alloc", "pkey_free", "pkey_mprotect", "process_mrelease"},
	// signals and time
	{"kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
		"rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
		"sigaltstack", "sigreturn", "sigprocmask", "signalfd", "signalfd4", "pause", "alarm",
		"nanosleep", "clock_nanosleep", "clock_nanosleep_time64", "clock_gettime", "clock_gettime64",
		"clock_getres", "clock_getres_time64", "gettimeofday", "time", "times",
		"getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
		"timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
		"timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64"},
	// waiting on many
	{"select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64",
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
		"eventfd", "eventfd2"},
	// sockets (socket itself is filtered; raw and packet sockets need
	// NET_RAW, which the agent has not)
	{"socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername",
		"getsockopt", "setsockopt", "shutdown", "send", "sendto", "sendmsg", "sendmmsg",
		"recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64"},
	// System V and POSIX IPC (namespaced)
	{"ipc", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semtimedop_time64", "semctl",
		"msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_getsetattr", "mq_notify",
		"mq_timedsend", "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64"},
}

// socketFamilies are the socket families the agent may use, as blocks of
// the family's low 32 bits (family & mask == value): 0-31, 32-39, 41,
// 42-43, 44-47, 48-63 — every family but AF_VSOCK (40).
var socketFamilies = []struct{ mask, value uint64 }{
	{0xffffffe0, 0}, {0xfffffff8, 32}, {0xffffffff, 41}, {0xfffffffe, 42}, {0xfffffffc, 44}, {0xfffffff0, 48},
}

// seccompArg is one comparison of a rule: the argument at Index, masked
// with Value, equals ValueTwo (SCMP_CMP_MASKED_EQ), or is not Value
// (SCMP_CMP_NE), or is Value (SCMP_CMP_EQ).
type seccompArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo"`
	Op       string `json:"op"`
}

type seccompRule struct {
	Names    []string     `json:"names"`
	Action   string       `json:"action"`
	ErrnoRet *uint        `json:"errnoRet,omitempty"`
	Args     []seccompArg `json:"args,omitempty"`
	Comment  string       `json:"comment,omitempty"`
}

type seccompArch struct {
	Architecture     string   `json:"architecture"`
	SubArchitectures []string `json:"subArchitectures"`
}

type seccompProfile struct {
	DefaultAction string        `json:"defaultAction"`
	ArchMap       []seccompArch `json:"archMap"`
	Syscalls      []seccompRule `json:"syscalls"`
}

// noSetID is a rule allowing names when their argument at index has
// neither setuid nor setgid bit.
func noSetID(index uint, names ...string) seccompRule {
	return seccompRule{Names: names, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: index, Value: setIDBits, Op: "SCMP_CMP_MASKED_EQ"}}}
}

// notCreating allows an open whose flags (at index) create no file.
func notCreating(index uint, name string) seccompRule {
	return seccompRule{Names: []string{name}, Action: "SCMP_ACT_ALLOW", Args: []seccompArg{{Index: index, Value: oCreat | oTmpfile, Op: "SCMP_CMP_MASKED_EQ"}}}
}

// SeccompProfile is the agent's seccomp profile as the engine takes it
// (the JSON of `docker run --security-opt seccomp=FILE`).
func SeccompProfile() []byte {
	var names []string
	for _, g := range seccompAllowed {
		names = append(names, g...)
	}
	sort.Strings(names)
	allow := func(args ...seccompArg) seccompRule {
		return seccompRule{Action: "SCMP_ACT_ALLOW", Args: args}
	}
	errno := uint(enosys)
	p := seccompProfile{
		DefaultAction: "SCMP_ACT_ERRNO",
		ArchMap: []seccompArch{
			{"SCMP_ARCH_X86_64", []string{"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
			{"SCMP_ARCH_AARCH64", []string{"SCMP_ARCH_ARM"}},
		},
		Syscalls: []seccompRule{
			{Names: names, Action: "SCMP_ACT_ALLOW"},
			// no file gets the setuid or setgid bit
			noSetID(1, "chmod", "fchmod", "creat"),
			noSetID(2, "fchmodat", "fchmodat2", "mknodat"),
			noSetID(1, "mknod"),
			notCreating(1, "open"), noSetID(2, "open"),
			notCreating(2, "openat"), noSetID(3, "openat"),
			{Names: []string{"openat2"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &errno, Comment: "its mode is in a struct no filter reads: C libraries fall back to openat on ENOSYS"},
			{Names: []string{"clone3"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &errno, Comment: "its flags are in a struct: C libraries fall back to clone on ENOSYS"},
		},
	}
	// threads and processes, but no new namespace: CLONE_NEWNS, NEWCGROUP,
	// NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
	const newNamespaces = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
	clone := allow(seccompArg{Index: 0, Value: newNamespaces, Op: "SCMP_CMP_MASKED_EQ"})
	clone.Names = []string{"clone"}
	p.Syscalls = append(p.Syscalls, clone)
	// sockets of every family but AF_VSOCK. The family is an int: the
	// kernel reads the low 32 bits of the register only, and a filter
	// compares all 64, so a rule "family != AF_VSOCK" let socket(1<<32 |
	// AF_VSOCK) through, a vsock socket opened. Each rule masks the low
	// 32 bits: families 0 to 63 (Linux has fewer: AF_MAX is 46) but
	// AF_VSOCK, in six blocks.
	for _, b := range socketFamilies {
		r := allow(seccompArg{Index: 0, Value: b.mask, ValueTwo: b.value, Op: "SCMP_CMP_MASKED_EQ"})
		r.Names = []string{"socket"}
		p.Syscalls = append(p.Syscalls, r)
	}
	// the personalities a program asks for: Linux, 32-bit Linux, each
	// with UNAME26, and the query
	for _, v := range []uint64{0, 0x0008, 0x20000, 0x20008, 0xffffffff} {
		r := allow(seccompArg{Index: 0, Value: v, Op: "SCMP_CMP_EQ"})
		r.Names = []string{"personality"}
		p.Syscalls = append(p.Syscalls, r)
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // a fixed value of plain types
	}
	return b
}
