package launch

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/enginefake"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment
node:x:1000:1000::/home/node:/bin/sh
app:x:1001:50::/app:/bin/sh
`
const testGroup = `root:x:0:
staff:x:50:
node:x:1000:
`

func TestResolveUser(t *testing.T) {
	for _, c := range []struct {
		spec, want, err string
	}{
		{"", "0:0", ""},
		{"root", "0:0", ""},
		{"node", "1000:1000", ""},
		{"app", "1001:50", ""},
		{"1001", "1001:50", ""},        // listed uid: its group
		{"1234", "1234:0", ""},         // unlisted uid: as is, group 0 (as runc)
		{"1234:1234", "1234:1234", ""}, // nowhere at all
		{"node:staff", "1000:50", ""},
		{"node:77", "1000:77", ""},
		{"1234:staff", "1234:50", ""},
		{"ghost", "", `the image's user "ghost" is not in its /etc/passwd`},
		{"node:ghosts", "", `the image's group "ghosts" is not in its /etc/group`},
	} {
		u, err := ResolveUser(c.spec, []byte(testPasswd), []byte(testGroup))
		switch {
		case c.err != "" && (err == nil || err.Error() != c.err):
			t.Errorf("ResolveUser(%q) = %v, %v; want error %q", c.spec, u, err, c.err)
		case c.err == "" && (err != nil || u.String() != c.want):
			t.Errorf("ResolveUser(%q) = %v, %v; want %s", c.spec, u, err, c.want)
		}
	}
}

// Everything under the agent's home is the user's, in the headers; the CA
// and the directories above the home stay root's.
func TestOwnHome(t *testing.T) {
	s := Spec{Agent: "u", Image: "img", Git: &Git{User: "Ada"}}
	s.Defaults()
	ca, err := NewCA("x", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := AgentFiles(s, ca, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	owned, err := OwnHome(raw, User{1000, 1001})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(owned))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[strings.TrimSuffix(h.Name, "/")] = User{h.Uid, h.Gid}.String()
	}
	for name, want := range map[string]string{
		"home": "0:0", "home/agent": "1000:1001", "home/agent/.claude": "1000:1001",
		"home/agent/.claude/projects": "1000:1001", "home/agent/.gitconfig": "1000:1001",
		strings.TrimPrefix(bottle.AgentCAPath, "/"): "0:0", "usr/local": "0:0",
	} {
		if got[name] != want {
			t.Errorf("%s owned by %q, want %s (all: %v)", name, got[name], want, got)
		}
	}
}

// The user's name is looked up in the image's own /etc/passwd, read out of
// the created container through the engine; the files copied in are owned
// by the uid found there.
func TestStartOwnsHomeByImageUser(t *testing.T) {
	f, w, s, opt := setup(t)
	w.ImageUser = "node"
	f.OnCopyFrom = func(id, p string) (io.ReadCloser, error) {
		if p != "/etc/passwd" {
			t.Errorf("read %s of the container", p)
			return nil, enginefake.NotFound("file: " + p)
		}
		return io.NopCloser(bytes.NewReader(tarOf(t, "passwd", testPasswd))), nil
	}
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.lock.Release()
	var copied []byte // the archive copied into the agent container
	for _, c := range f.Copies() {
		if bytes.Contains(c.Data, []byte("home/agent")) {
			copied = c.Data
		}
	}
	tr := tar.NewReader(bytes.NewReader(copied))
	n := 0
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if strings.HasPrefix(h.Name, "home/agent") {
			n++
			if h.Uid != 1000 || h.Gid != 1000 {
				t.Errorf("%s owned by %d:%d, want 1000:1000", h.Name, h.Uid, h.Gid)
			}
		}
	}
	if n == 0 {
		t.Error("nothing under the home was copied")
	}

	// a name the image does not have fails the launch, which then removes
	// what it made
	f2, w2, s2, opt2 := setup(t)
	w2.ImageUser = "ghost"
	f2.OnCopyFrom = f.OnCopyFrom
	if _, err := Start(context.Background(), f2, s2, opt2); err == nil || !strings.Contains(err.Error(), `the image's user "ghost" is not in its /etc/passwd (while resolving the agent image's user)`) {
		t.Fatalf("Start = %v", err)
	}
	if held := w2.Held(); len(held) != 0 {
		t.Errorf("left: %v", held)
	}
}

func tarOf(t *testing.T, name, content string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	tw.Close()
	return buf.Bytes()
}
