package launch

// A smolmachines launch's provisioning: what is copied into the running
// machine, and the agent's exec (see smol.go).

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// smolProvision copies into the running machine what the docker backend
// copies into the agent container: the CA (root's), the prompt, git config
// and credential (the user's; the credential 0600) with `machine cp`, the
// skills tree and a resumed transcript with tar through `machine exec -i`
// (run as the image's user, so what it writes is the user's).
func (b *Launched) smolProvision(intr context.Context) error {
	sm, s := b.smol, b.spec
	ctx := context.WithoutCancel(intr)
	u := sm.User
	tmp, err := os.MkdirTemp("", "bottle-launch-cp-")
	if err != nil {
		return &StepError{"provisioning the machine", err}
	}
	defer os.RemoveAll(tmp)
	type file struct {
		dst      string
		mode     int
		uid, gid int
		data     []byte
	}
	files := []file{{bottle.AgentCAPath, 0o644, 0, 0, sm.ca}}
	if s.Prompt != "" {
		data, err := readHostFile(s.Prompt, "prompt", MaxFileBytes)
		if err != nil {
			return &StepError{"reading what the agent gets", err}
		}
		files = append(files, file{bottle.AgentPrompt, 0o644, u.UID, u.GID, data})
	}
	if g := s.Git; g != nil {
		cfg, cred, err := gitFiles(*g)
		if err != nil {
			return &StepError{"reading what the agent gets", err}
		}
		if cred != nil {
			files = append(files, file{bottle.AgentHome + "/.git-credentials", 0o600, u.UID, u.GID, cred})
		}
		if cfg != nil {
			files = append(files, file{bottle.AgentHome + "/.gitconfig", 0o644, u.UID, u.GID, cfg})
		}
	}
	for i, f := range files {
		if err := intr.Err(); err != nil {
			return err
		}
		src := filepath.Join(tmp, strconv.Itoa(i))
		if err := os.WriteFile(src, f.data, 0o600); err != nil {
			return &StepError{"provisioning the machine", err}
		}
		err := sm.CLI.CopyIn(ctx, sm.machine, src, f.dst, f.mode, f.uid, f.gid, smolCallTimeout)
		os.Remove(src)
		if err != nil {
			return &StepError{"copying " + f.dst + " into the machine", err}
		}
	}
	if s.Skills != "" {
		a := NewArchive(b.Created)
		if err := a.Tree("/", s.Skills); err != nil {
			return &StepError{"reading what the agent gets", err}
		}
		data, err := a.Bytes()
		if err != nil {
			return &StepError{"reading what the agent gets", err}
		}
		if err := intr.Err(); err != nil {
			return err
		}
		if err := b.smolUntar(ctx, bytes.NewReader(data), bottle.AgentSkills); err != nil {
			return &StepError{"copying the skills into the machine", err}
		}
	}
	if b.restore() != "" {
		if err := intr.Err(); err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(TranscriptTree(pw, b.restore(), b.Created)) }()
		err := b.smolUntar(ctx, pr, bottle.AgentTranscript)
		pr.Close()
		if err != nil {
			return &StepError{"restoring the transcript into the agent's home", err}
		}
	}
	return nil
}

// smolUntar extracts a tar (entries relative) into dir in the machine:
// `tar -x -f - -C dir` through `machine exec -i`, as the image's user.
func (b *Launched) smolUntar(ctx context.Context, r io.Reader, dir string) error {
	sm := b.smol
	_, err := sm.CLI.RunWith(ctx, smolCallTimeout, sm.env(), r, "machine", "exec", "-i", "--name", sm.machine, "--", "tar", "-x", "-f", "-", "-C", dir)
	return err
}

// smolAgentExec is the agent's `machine exec`: the spec's env values by
// --secret-env (each read from a variable of smolvm's environment, never
// written to smolvm's database), then the command. mode is -d (detached)
// or the foreground's -i/-t.
func (b *Launched) smolAgentExec(mode ...string) (args, env []string) {
	sm := b.smol
	args = append([]string{"machine", "exec"}, mode...)
	args = append(args, "--name", sm.machine)
	_, secret := b.smolAgentEnv()
	keys := make([]string, 0, len(secret))
	for k := range secret {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var extra []string
	for i, k := range keys {
		v := "BOTTLE_SECRET_ENV_" + strconv.Itoa(i)
		args = append(args, "--secret-env", k+"="+v)
		extra = append(extra, v+"="+secret[k])
	}
	cmd := b.command()
	if len(cmd) == 0 {
		cmd = sm.Cmd
	}
	cmd = append(slices.Clone(sm.Entrypoint), cmd...)
	return append(append(args, "--"), cmd...), sm.env(extra...)
}
