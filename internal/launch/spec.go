// Package launch starts one bottle on the docker backend: it reads and
// checks a bottle spec, creates the compose-labelled project (two networks,
// a volume, the egress-proxy sidecar and the agent) through the Engine API,
// provisions it (a per-bottle CA, the prompt, skills and git config), runs
// the agent and tears everything down again, leaving the state dir.
package launch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// Defaults.
const (
	// ClaudeContinue is Claude Code's flag to continue the most recent
	// conversation of its working directory.
	ClaudeContinue      = "--continue"
	DefaultSidecarImage = "ghcr.io/luckypipewrench/pipelock:latest"
	DefaultSidecarPort  = 8888
	// MaxSpecBytes bounds a spec read from a file or stdin.
	MaxSpecBytes = 1 << 20
)

// DefaultAllow is the sidecar's allow list when the spec has none: the
// Anthropic API, which is all a Claude Code agent needs to work (with
// ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN in env). Its telemetry and
// error reports (statsig.anthropic.com, sentry.io), the OAuth login pages
// and auto-updates are left out: Claude Code works without them.
var DefaultAllow = []string{"api.anthropic.com"}

// DefaultPassthrough is the sidecar's TLS passthrough list when the spec
// has none: the Anthropic API. pipelock advises passthrough for LLM
// providers: intercepted, every request (the agent's whole context and
// its API key header) would go through pipelock's secret scanner, and
// compressed or streamed answers can be refused.
var DefaultPassthrough = []string{"api.anthropic.com"}

// Spec is what a bottle is made of (docs/formats.md). Paths are host paths, relative to the
// spec file's directory (the working directory for a spec on stdin).
type Spec struct {
	// Backend is where the bottle runs: docker (also when absent) or
	// smolmachines (the agent in a smolvm microVM, its sidecar in Docker).
	Backend string   `json:"backend,omitempty"`
	Agent   string   `json:"agent"`
	Image   string   `json:"image"`
	Command []string `json:"command,omitempty"`
	// Continue is what a resume (bottle-launch --resume) appends to the
	// command so the agent continues its conversation. Absent: Defaults
	// sets ["--continue"] (Claude Code's flag) when the command's first
	// word is claude, else []. It is kept as set (never omitted) in
	// bottle.json, so [] stays "append nothing".
	Continue []string `json:"continue"`
	// User is who the agent runs as (a name or uid, optionally :group or
	// :gid, as a Dockerfile's USER): absent, the image's USER, or, when
	// that is root or unset, an unprivileged uid (DefaultUser or the
	// workspace's owner). Root ("root", "0") only when written here.
	User      string            `json:"user,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Workspace string            `json:"workspace,omitempty"`
	Prompt    string            `json:"prompt,omitempty"`
	Skills    string            `json:"skills,omitempty"`
	Git       *Git              `json:"git,omitempty"`
	Sidecar   Sidecar           `json:"sidecar"`
}

// Git is the agent's git identity.
type Git struct {
	User  string `json:"user,omitempty"`
	Email string `json:"email,omitempty"`
	// Credential is a host file in git-credential-store format
	// (https://user:token@host per line); it lands in the agent's home
	// with mode 0600 and git's "store" helper pointed at it.
	Credential string `json:"credential,omitempty"`
}

// Sidecar is the egress proxy.
type Sidecar struct {
	Image string `json:"image,omitempty"`
	Port  int    `json:"port,omitempty"`
	// Allow is the hosts the sidecar lets through. Absent: DefaultAllow;
	// an empty list is refused (pipelock cannot run strict with none).
	Allow []string `json:"allow,omitempty"`
	// Trusted are private hosts the sidecar may reach although they
	// resolve to private addresses (a registry on one of Networks).
	// Each is also allowed. Written as pipelock's trusted_domains.
	Trusted []string `json:"trusted,omitempty"`
	// Passthrough are hosts whose TLS the sidecar does not intercept
	// (pipelock's tls_interception.passthrough_domains): still allowed
	// or refused by name, not scanned. Absent: DefaultPassthrough.
	Passthrough []string `json:"passthrough,omitempty"`
	Command     []string `json:"command,omitempty"`
	// Networks are existing networks the sidecar joins besides the
	// bottle's own (e.g. where a private registry lives). They are not
	// created or removed.
	Networks []string `json:"networks,omitempty"`
}

// SpecError is a spec the launcher cannot use; Flag names the flag it came
// from ("" for the spec itself), which decides usage (2) or bad input (3).
type SpecError struct {
	Flag string
	Msg  string
	// Empty: the spec was empty (flags may still make a whole spec).
	Empty bool
}

func (e *SpecError) Error() string { return e.Msg }

func bad(format string, args ...any) error { return &SpecError{Msg: fmt.Sprintf(format, args...)} }

// Decode reads one spec: JSON, unknown fields refused, nothing after it.
func Decode(r io.Reader, source string) (Spec, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSpecBytes+1))
	if err != nil {
		return Spec{}, bad("reading spec %s: %v", source, err)
	}
	if len(b) > MaxSpecBytes {
		return Spec{}, bad("spec %s is larger than %d bytes", source, MaxSpecBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return Spec{}, &SpecError{Empty: true, Msg: fmt.Sprintf("spec %s is empty: give a JSON object with at least agent and image, or pass --agent and --image", source)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line := bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n")) + 1
			return Spec{}, bad("spec %s line %d: not valid JSON: %v", source, line, err)
		case errors.As(err, &te):
			return Spec{}, bad("spec %s: field %q must be %s, not %s", source, te.Field, typeName(te.Type.String()), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return Spec{}, bad("spec %s: unknown field %s (known: agent, image, command, continue, user, env, workspace, prompt, skills, git{user,email,credential}, sidecar{image,port,allow,trusted,passthrough,command,networks}, backend)",
				source, strings.TrimPrefix(err.Error(), "json: unknown field "))
		}
		return Spec{}, bad("spec %s: %v", source, err)
	}
	if dec.More() {
		return Spec{}, bad("spec %s: more than one JSON value; give exactly one object", source)
	}
	return s, nil
}

func typeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "an array of " + strings.TrimPrefix(t, "[]") + "s"
	case strings.HasPrefix(t, "map["):
		return "an object of strings"
	case t == "int":
		return "a number"
	}
	return "a " + strings.TrimPrefix(t, "launch.")
}

// Resolve makes the spec's host paths absolute against dir.
func (s *Spec) Resolve(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&s.Workspace)
	abs(&s.Prompt)
	abs(&s.Skills)
	if s.Git != nil {
		abs(&s.Git.Credential)
	}
}

// Defaults fills in the sidecar's image and port, and what a resume
// appends to the command.
func (s *Spec) Defaults() {
	if s.Continue == nil {
		s.Continue = []string{}
		if len(s.Command) > 0 && path.Base(s.Command[0]) == "claude" {
			s.Continue = []string{ClaudeContinue}
		}
	}
	if s.Sidecar.Image == "" {
		s.Sidecar.Image = DefaultSidecarImage
	}
	if s.Sidecar.Port == 0 {
		s.Sidecar.Port = DefaultSidecarPort
	}
	// nil is absent (or null); [] stays empty and Check refuses it.
	if s.Sidecar.Allow == nil {
		s.Sidecar.Allow = slices.Clone(DefaultAllow)
	}
	if s.Sidecar.Passthrough == nil {
		s.Sidecar.Passthrough = slices.Clone(DefaultPassthrough)
	}
}

// AllowList is what the sidecar lets through: the allow list and the
// trusted hosts, each once.
func (s *Spec) AllowList() []string {
	var out []string
	for _, h := range append(slices.Clone(s.Sidecar.Allow), s.Sidecar.Trusted...) {
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// Check refuses a spec the launcher cannot use, before anything is made.
// flagged names the fields that came from flags (agent, image, allow,
// sidecar-image).
func (s *Spec) Check(flagged map[string]string) error {
	fail := func(field, format string, args ...any) error {
		return &SpecError{Flag: flagged[field], Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case s.Backend != "" && s.Backend != bottle.Docker && s.Backend != bottle.Smolmachines:
		return fail("backend", "bad backend %q: use docker or smolmachines", s.Backend)
	case s.Agent == "":
		return fail("agent", "the spec names no agent: set \"agent\" (or pass --agent NAME)")
	case !bottle.ValidAgent(s.Agent):
		return fail("agent", "bad agent name %q: use 1-40 of [a-z0-9_-], starting with a letter or digit (it becomes part of container and network names)", s.Agent)
	case strings.TrimSpace(s.Image) == "":
		return fail("image", "the spec names no agent image: set \"image\" (or pass --image IMAGE)")
	case strings.ContainsAny(s.Image, " \t\n"):
		return fail("image", "bad image %q: an image reference has no spaces", s.Image)
	case strings.ContainsAny(s.Sidecar.Image, " \t\n"):
		return fail("sidecar-image", "bad sidecar image %q: an image reference has no spaces", s.Sidecar.Image)
	case s.Sidecar.Port < 1 || s.Sidecar.Port > 65535:
		return bad("bad sidecar port %d: use 1-65535", s.Sidecar.Port)
	}
	for _, h := range s.Sidecar.Allow {
		if !validHost(h) {
			return fail("allow", "bad allow entry %q: use a host name such as api.anthropic.com or *.example.com", h)
		}
	}
	for _, h := range s.Sidecar.Trusted {
		// pipelock's ValidateTrustedDomains refuses the same; an IP is
		// never matched by trusted_domains, so it would trust nothing.
		if !validHost(h) || net.ParseIP(h) != nil || (strings.HasPrefix(h, "*.") && !strings.Contains(h[2:], ".")) {
			return bad("bad sidecar.trusted entry %q: use a host name such as registry.internal or *.corp.example.com (not an IP address, not a top-level wildcard)", h)
		}
	}
	for _, h := range s.Sidecar.Passthrough {
		if !validHost(h) {
			return bad("bad sidecar.passthrough entry %q: use a host name such as api.anthropic.com or *.example.com", h)
		}
	}
	if len(s.AllowList()) == 0 {
		return fail("allow", "sidecar.allow is empty: the agent could reach nothing, and pipelock refuses to start in strict mode without an allowed host; name at least one host, or leave allow out for the default (%s)", strings.Join(DefaultAllow, ", "))
	}
	if len(s.Continue) > 0 && len(s.Command) == 0 {
		return bad("continue needs command: a resume appends continue to the spec's command, and there is none (the image's CMD is not known here)")
	}
	if s.User != "" && !validUser(s.User) {
		return bad("bad user %q: use a user name or uid, optionally with :group or :gid (as a Dockerfile's USER), or root to run the agent as root", s.User)
	}
	for k := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return bad("bad env name %q: a name has no '=' and is not empty", k)
		}
	}
	if s.Git != nil {
		if strings.ContainsAny(s.Git.User+s.Git.Email, "\n\"\\") {
			return bad("bad git user or email: no newlines, quotes or backslashes")
		}
		if s.Git.Credential != "" {
			if _, err := readHostFile(s.Git.Credential, "git credential", MaxFileBytes); err != nil {
				return err
			}
		}
	}
	if s.Prompt != "" {
		if _, err := readHostFile(s.Prompt, "prompt", MaxFileBytes); err != nil {
			return err
		}
	}
	if s.Skills != "" {
		// the whole tree, as it will be copied: bounds, and not nothing
		if err := NewArchive(time.Time{}).Tree(bottle.AgentSkills, s.Skills); err != nil {
			return err
		}
	}
	if s.Workspace != "" {
		home, _ := os.UserHomeDir()
		if err := checkWorkspace(s.Workspace, home); err != nil {
			return err
		}
	}
	for _, n := range s.Sidecar.Networks {
		if n == "" || strings.ContainsAny(n, " /\t\n") {
			return bad("bad sidecar network %q", n)
		}
	}
	return nil
}

func validHost(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// RedactedValue replaces every env value in bottle.json.
const RedactedValue = "(redacted)"

// Redacted is the spec as bottle.json keeps it: env values are replaced,
// so no secret lands in the state dir.
func (s Spec) Redacted() Spec {
	if len(s.Env) > 0 {
		env := make(map[string]string, len(s.Env))
		for k := range s.Env {
			env[k] = RedactedValue
		}
		s.Env = env
	}
	s.Command = slices.Clone(s.Command)
	s.Continue = slices.Clone(s.Continue)
	return s
}
