package smolvmfake

import (
	"fmt"
	"strings"
)

// flagDef is one flag of a subcommand, as clap declares it.
type flagDef struct {
	long   string // canonical name, without dashes
	short  byte   // 0: none
	value  bool   // takes a value
	repeat bool   // may be given more than once
}

// command is a subcommand's surface: its flags, how many positionals it
// takes, and its trailing command (create: `last = true`, only after `--`;
// exec: `trailing_var_arg`, the first positional starts it).
type command struct {
	flags       []flagDef
	positionals int
	trailing    string // "", "last", "var"
}

func f(long string, short byte, value, repeat bool) flagDef {
	return flagDef{long: long, short: short, value: value, repeat: repeat}
}

// commands copies the flag surface of smolvm v1.9.3's machine subcommands
// the toolkit uses (src/cli/machine.rs: CreateCmd, ExecCmd, CpCmd, the
// lifecycle commands). exec's --name has no short -n (ExecCmd); the
// create-only "state", "pid" and "created" are the fake's own (seeding).
var commands = map[string]command{
	"ls":     {flags: []flagDef{f("json", 0, false, false), f("verbose", 'v', false, false)}},
	"status": {flags: []flagDef{f("name", 'n', true, false), f("json", 0, false, false)}},
	"stop":   {flags: []flagDef{f("name", 'n', true, false)}},
	"delete": {flags: []flagDef{f("name", 'n', true, false), f("force", 'f', false, false), f("cascade", 0, false, false)}},
	"start": {flags: []flagDef{f("name", 'n', true, false), f("proxy", 0, true, false), f("no-proxy", 0, true, false),
		f("forkable", 0, false, false)}},
	"create": {trailing: "last", flags: []flagDef{
		f("name", 'n', true, false), f("label", 0, true, true), f("image", 'I', true, false), f("max-image-size", 0, true, false),
		f("cpus", 0, true, false), f("mem", 0, true, false), f("storage", 0, true, false), f("overlay", 0, true, false),
		f("volume", 'v', true, true), f("port", 'p', true, true), f("net", 0, false, false), f("net-backend", 0, true, false),
		f("dns", 0, true, false), f("network", 0, true, false), f("allow-cidr", 0, true, true), f("allow-host", 0, true, true),
		f("outbound-localhost-only", 0, false, false), f("init", 0, true, true), f("env", 'e', true, true), f("workdir", 'w', true, false),
		f("secret-env", 0, true, true), f("secret-file", 0, true, true), f("ssh-agent", 0, false, false),
		f("state", 0, true, false), f("pid", 0, true, false), f("created", 0, true, false),
	}},
	"exec": {trailing: "var", flags: []flagDef{
		f("name", 0, true, false), f("workdir", 'w', true, false), f("env", 'e', true, true), f("secret-env", 0, true, true),
		f("secret-file", 0, true, true), f("timeout", 0, true, false), f("interactive", 'i', false, false), f("tty", 't', false, false),
		f("stream", 0, false, false), f("detach", 'd', false, false),
	}},
	"cp": {positionals: 2, flags: []flagDef{f("mode", 0, true, false), f("uid", 0, true, false), f("gid", 0, true, false)}},
}

// parsed is a command line parsed as clap would.
type parsed struct {
	vals map[string][]string
	pos  []string
	tail []string
}

func (p parsed) str(k string) string {
	if v := p.vals[k]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func (p parsed) has(k string) bool { _, ok := p.vals[k]; return ok }

// usageError is what clap prints for a bad command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// parse reads args as clap reads the command's definition: --long VALUE,
// --long=VALUE, -s VALUE, -sVALUE, bundled short booleans (-it), `--`
// ending the flags.
func parse(cmd command, args []string) (parsed, error) {
	p := parsed{vals: map[string][]string{}}
	byLong, byShort := map[string]flagDef{}, map[byte]flagDef{}
	for _, d := range cmd.flags {
		byLong[d.long] = d
		if d.short != 0 {
			byShort[d.short] = d
		}
	}
	set := func(d flagDef, v string) error {
		if _, dup := p.vals[d.long]; dup && !d.repeat {
			return usagef("the argument '--%s' cannot be used multiple times", d.long)
		}
		p.vals[d.long] = append(p.vals[d.long], v)
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if cmd.trailing == "" {
				return p, usagef("unexpected argument '%s' found", strings.Join(args[i+1:], " "))
			}
			p.tail = append(p.tail, args[i+1:]...)
			return p, nil
		case strings.HasPrefix(a, "--"):
			key, val, hasVal := strings.Cut(a[2:], "=")
			d, ok := byLong[key]
			if !ok {
				return p, usagef("unexpected argument '--%s' found", key)
			}
			if !d.value {
				if hasVal {
					return p, usagef("unexpected value '%s' for '--%s' found; no more were expected", val, key)
				}
				if err := set(d, ""); err != nil {
					return p, err
				}
				continue
			}
			if !hasVal {
				if i+1 >= len(args) {
					return p, usagef("a value is required for '--%s <%s>' but none was supplied", key, strings.ToUpper(key))
				}
				i++
				val = args[i]
			}
			if err := set(d, val); err != nil {
				return p, err
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				d, ok := byShort[a[j]]
				if !ok {
					return p, usagef("unexpected argument '-%c' found", a[j])
				}
				if !d.value {
					if err := set(d, ""); err != nil {
						return p, err
					}
					continue
				}
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return p, usagef("a value is required for '-%c <%s>' but none was supplied", a[j], strings.ToUpper(d.long))
					}
					i++
					val = args[i]
				}
				if err := set(d, val); err != nil {
					return p, err
				}
				break
			}
		default:
			if cmd.trailing == "var" {
				p.tail = append(p.tail, args[i:]...)
				return p, nil
			}
			if len(p.pos) >= cmd.positionals {
				return p, usagef("unexpected argument '%s' found", a)
			}
			p.pos = append(p.pos, a)
		}
	}
	return p, nil
}
