package launch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Bounds on what a spec path may bring into a bottle.
const (
	// MaxFileBytes bounds a prompt, a git credential and each skills file.
	MaxFileBytes = 4 << 20
	// MaxTreeBytes bounds the skills tree as a whole.
	MaxTreeBytes = 64 << 20
)

// pseudoRoots are file systems whose files are not the user's data: a
// path that resolves under one is refused, whatever its file type says
// (/proc/self/environ is a "regular" file holding the launcher's
// environment).
var pseudoRoots = []string{"/proc", "/sys", "/dev"}

// under reports whether p is root or inside it.
func under(p, root string) bool {
	return p == root || strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/")
}

// resolve returns path with every symlink followed, refusing one that ends
// under /proc, /sys or /dev.
func resolve(path, what string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", bad("%s %s: %v", what, path, unwrapPath(err))
	}
	for _, r := range pseudoRoots {
		if under(real, r) {
			return "", bad("%s %s resolves to %s: only regular files and directories of your own are read, never %s", what, path, real, r)
		}
	}
	return real, nil
}

// readHostFile reads a spec's file: a regular file only (never a FIFO, a
// device, a socket or a file of /proc or /sys), at most max bytes. It
// opens without blocking, so a FIFO put in place after a check cannot
// hang the launcher, and checks the opened file itself.
func readHostFile(path, what string, max int64) ([]byte, error) {
	real, err := resolve(path, what)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, bad("%s %s: %v", what, path, unwrapPath(err))
	}
	if err := regular(fi, path, what); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, bad("%s %s: %v", what, path, unwrapPath(err))
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, bad("%s %s: %v", what, path, unwrapPath(err))
	}
	if err := regular(fi, path, what); err != nil {
		return nil, err
	}
	if pseudoFS(f) {
		return nil, bad("%s %s is on a kernel pseudo file system (proc or sys): only regular files of your own are read", what, path)
	}
	if fi.Size() > max {
		return nil, bad("%s %s is %d bytes; the limit is %d", what, path, fi.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, bad("%s %s: %v", what, path, unwrapPath(err))
	}
	if int64(len(data)) > max {
		return nil, bad("%s %s is larger than %d bytes", what, path, max)
	}
	return data, nil
}

func regular(fi os.FileInfo, path, what string) error {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return nil
	case m.IsDir():
		return bad("%s %s is a directory, not a file", what, path)
	case m&os.ModeNamedPipe != 0:
		return bad("%s %s is a FIFO: give a regular file", what, path)
	case m&(os.ModeDevice|os.ModeCharDevice) != 0:
		return bad("%s %s is a device: give a regular file", what, path)
	case m&os.ModeSocket != 0:
		return bad("%s %s is a socket: give a regular file", what, path)
	}
	return bad("%s %s is not a regular file", what, path)
}

// hostDir resolves a spec's directory: symlinks on the way are followed
// once (the path is the user's own choice), the result must be a readable
// directory outside /proc, /sys and /dev.
func hostDir(path, what string) (string, error) {
	real, err := resolve(path, what)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", bad("%s %s: %v", what, path, unwrapPath(err))
	}
	if !fi.IsDir() {
		return "", bad("%s %s is not a directory", what, path)
	}
	f, err := os.Open(real)
	if err == nil {
		_, err = f.ReadDir(1)
		f.Close()
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil {
		return "", bad("%s %s: %v", what, path, unwrapPath(err))
	}
	return real, nil
}

// systemTrees are directories that are never a workspace, nor is anything
// inside them: the operating system's own files.
var systemTrees = []string{
	"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/usr",
	"/System", "/Library", "/private/etc", "/private/var/db",
}

// systemDirs are directories that are never a workspace themselves (what
// is inside them may be).
var systemDirs = []string{"/home", "/Users", "/media", "/mnt", "/opt", "/private", "/private/tmp", "/private/var", "/root", "/srv", "/tmp", "/var", "/var/lib", "/var/tmp", "/Volumes"}

// guarded is a directory no workspace may be, be inside or hold: what it
// holds would be the agent's to read and change.
type guarded struct {
	dir, what string
}

// engineDataDirs are where container engines keep every container's,
// image's and volume's files (Docker's and Podman's, as root); the
// engine's own answer (GET /info DockerRootDir) is checked too
// (CheckWorkspaceEngine).
var engineDataDirs = []guarded{
	{"/var/lib/docker", "Docker's data dir"},
	{"/var/lib/containers", "Podman's data dir"},
}

// homeGuarded are such directories under the home: credentials and
// rootless engines' data.
var homeGuarded = []guarded{
	{".ssh", "SSH keys"}, {".gnupg", "GnuPG keys"}, {".aws", "AWS credentials"}, {".azure", "Azure credentials"},
	{".config/gcloud", "Google Cloud credentials"}, {".config/gh", "GitHub CLI tokens"}, {".kube", "Kubernetes credentials"},
	{".docker", "the Docker CLI's config and registry credentials"}, {".password-store", "pass's passwords"},
	{".local/share/keyrings", "the desktop keyring"}, {".claude", "Claude Code's credentials"},
	{".claude-bottle", "bottle's own state"},
	{".local/share/docker", "rootless Docker's data dir"}, {".local/share/containers", "rootless Podman's data dir"},
}

// checkGuarded refuses a workspace (real: symlinks followed) that is one
// of dirs, is inside one or holds one.
func checkGuarded(path, real string, dirs []guarded) error {
	for _, g := range dirs {
		d := g.dir
		if r, err := filepath.EvalSymlinks(d); err == nil {
			d = r
		}
		switch {
		case under(real, d):
			return bad("workspace %s is in %s (%s): the agent gets its workspace read-write and could read or change what is there; give a project directory", path, g.dir, g.what)
		case under(d, real):
			return bad("workspace %s holds %s (%s): the agent gets its workspace read-write and could read or change what is there; give a project directory", path, g.dir, g.what)
		}
	}
	return nil
}

// CheckWorkspaceEngine refuses a workspace that is, is inside or holds
// the engine's data dir as the engine names it (GET /info
// DockerRootDir; "" when it names none). Check has refused the usual
// ones already.
func (s *Spec) CheckWorkspaceEngine(dataRoot string) error {
	if s.Workspace == "" || dataRoot == "" || !filepath.IsAbs(dataRoot) {
		return nil
	}
	real, err := filepath.EvalSymlinks(s.Workspace)
	if err != nil {
		return bad("workspace %s: %v", s.Workspace, unwrapPath(err))
	}
	return checkGuarded(s.Workspace, real, []guarded{{dataRoot, "the engine's data dir"}})
}

// checkWorkspace refuses a workspace the agent must not get read-write:
// "/", the home dir or any of its ancestors, a system directory or
// anything inside one, an engine's data dir or a directory of credentials
// (or anything inside one, or holding one). Symlinks are followed first.
func checkWorkspace(path, home string) error {
	real, err := hostDir(path, "workspace")
	if err != nil {
		return err
	}
	refuse := func(why string) error {
		return bad("workspace %s is %s: the agent gets its workspace read-write; give a project directory", path, why)
	}
	if real == "/" {
		return refuse("the root directory")
	}
	if home != "" {
		if h, err := filepath.EvalSymlinks(home); err == nil {
			home = h
		}
		switch {
		case real == home:
			return refuse("your home directory")
		case under(home, real):
			return refuse(fmt.Sprintf("an ancestor of your home directory %s", home))
		}
	}
	for _, d := range systemTrees {
		if under(real, d) {
			return refuse(fmt.Sprintf("the system directory %s or inside it", d))
		}
	}
	for _, d := range systemDirs {
		if real == d {
			return refuse("the system directory " + d)
		}
	}
	dirs := engineDataDirs
	if home != "" {
		for _, g := range homeGuarded {
			dirs = append(dirs, guarded{filepath.Join(home, g.dir), g.what})
		}
	}
	return checkGuarded(path, real, dirs)
}
