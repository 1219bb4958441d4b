package launch

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// User is the numeric user and group the agent's process runs as.
type User struct{ UID, GID int }

func (u User) String() string { return strconv.Itoa(u.UID) + ":" + strconv.Itoa(u.GID) }

// ResolveUser resolves an image's USER (empty, name, uid, name:group,
// uid:gid, and the mixes) against the image's own /etc/passwd and
// /etc/group contents, as the container runtime does when it starts the
// process: empty is root; a name must be in passwd (its group is the
// entry's); a numeric uid is used as is, with its passwd entry's group
// when it has one and group 0 otherwise; a group name must be in group, a
// numeric gid is used as is.
func ResolveUser(spec string, passwd, group []byte) (User, error) {
	if spec == "" {
		return User{}, nil
	}
	name, grp, hasGroup := strings.Cut(spec, ":")
	var u User
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		u.UID = n
		if e, ok := findEntry(passwd, 2, name); ok {
			u.GID = e.gid
		}
	} else {
		e, ok := findEntry(passwd, 0, name)
		if !ok {
			return User{}, fmt.Errorf("the image's user %q is not in its /etc/passwd", name)
		}
		u.UID, u.GID = e.uid, e.gid
	}
	if hasGroup {
		if n, err := strconv.Atoi(grp); err == nil && n >= 0 {
			u.GID = n
		} else {
			e, ok := findEntry(group, 0, grp)
			if !ok {
				return User{}, fmt.Errorf("the image's group %q is not in its /etc/group", grp)
			}
			u.GID = e.uid // group's third field is its gid
		}
	}
	return u, nil
}

type entry struct{ uid, gid int }

// findEntry finds the first line of a passwd or group file whose field
// col is value: passwd is name:x:uid:gid:..., group is name:x:gid:...
// (entry.uid then holds the gid).
func findEntry(data []byte, col int, value string) (entry, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < 3 || f[col] != value {
			continue
		}
		var e entry
		var err error
		if e.uid, err = strconv.Atoi(f[2]); err != nil {
			continue
		}
		if len(f) > 3 {
			e.gid, _ = strconv.Atoi(f[3])
		}
		return e, true
	}
	return entry{}, false
}

// maxAccountFile bounds what is read of an image's passwd or group file.
const maxAccountFile = 4 << 20

// agentUser resolves who the created agent container runs as, reading the
// image's /etc/passwd and /etc/group out of the container through the
// engine (never the host's files).
func (b *Launched) agentUser(ctx context.Context, id string) (User, error) {
	spec, err := b.eng.ContainerUser(ctx, id)
	if err != nil {
		return User{}, err
	}
	if spec == "" || spec == "root" || spec == "0" || spec == "0:0" {
		return User{}, nil
	}
	name, grp, _ := strings.Cut(spec, ":")
	if u, err := strconv.Atoi(name); err == nil && u >= 0 {
		if g, err := strconv.Atoi(grp); err == nil && g >= 0 {
			return User{UID: u, GID: g}, nil // no passwd decides anything
		}
	}
	// A numeric uid too takes its group from passwd when it is listed.
	passwd, err := readContainerFile(ctx, b.eng, id, "/etc/passwd")
	if err != nil {
		return User{}, err
	}
	var group []byte
	if _, err := strconv.Atoi(grp); grp != "" && err != nil {
		if group, err = readContainerFile(ctx, b.eng, id, "/etc/group"); err != nil {
			return User{}, err
		}
	}
	return ResolveUser(spec, passwd, group)
}

// readContainerFile reads a regular file of a container through the
// archive API; a file that is not there reads as empty. A symlink is
// followed once (within the container).
func readContainerFile(ctx context.Context, eng engine.Launcher, id, p string) ([]byte, error) {
	for hops := 0; ; hops++ {
		rc, err := eng.CopyFrom(ctx, id, p)
		if engine.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s of the image: %w", p, err)
		}
		data, link, err := firstFile(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s of the image: %w", p, err)
		}
		if link == "" || hops > 0 {
			return data, nil
		}
		if !path.IsAbs(link) {
			link = path.Join(path.Dir(p), link)
		}
		p = link
	}
}

// firstFile returns the first entry of a tar: a regular file's contents
// (at most maxAccountFile bytes) or a symlink's target.
func firstFile(r io.Reader) ([]byte, string, error) {
	tr := tar.NewReader(r)
	h, err := tr.Next()
	if errors.Is(err, io.EOF) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	switch h.Typeflag {
	case tar.TypeReg:
		if h.Size > maxAccountFile {
			return nil, "", fmt.Errorf("larger than %d bytes", maxAccountFile)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxAccountFile))
		return data, "", err
	case tar.TypeSymlink:
		return nil, h.Linkname, nil
	}
	return nil, "", nil
}

// OwnHome returns the agent's archive with every entry at or under the
// agent's home owned by u (uid and gid in the tar headers; the engine
// applies them as they are, with no look-up in any passwd). The rest (the
// CA certificate and its parents) stays root's.
func OwnHome(archive []byte, u User) ([]byte, error) {
	tr := tar.NewReader(bytes.NewReader(archive))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	home := strings.TrimPrefix(bottle.AgentHome, "/")
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(h.Name, "/")
		if name == home || strings.HasPrefix(name, home+"/") {
			h.Uid, h.Gid = u.UID, u.GID
		} else {
			h.Uid, h.Gid = 0, 0
		}
		h.Uname, h.Gname = "", ""
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
