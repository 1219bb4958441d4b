package imagetar

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// member is one entry of a test archive or layer.
type member struct {
	name, link string
	data       string
	dir        bool
	uid, gid   int
}

func tarOf(t *testing.T, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Mode: 0o644, Uid: m.uid, Gid: m.gid}
		switch {
		case m.dir:
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case m.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, m.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(m.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// saved is a `docker save` archive of layers (bottom first) and a config,
// in Docker 20.10's layout (oci=false) or Docker 25's (oci=true), with the
// manifest last as docker writes it.
func saved(t *testing.T, oci bool, config string, layers ...[]byte) []byte {
	t.Helper()
	var ms []member
	var names []string
	var ids []string
	for _, l := range layers {
		h := sha(l)
		ids = append(ids, `"sha256:`+h+`"`)
		if oci {
			names = append(names, "blobs/sha256/"+h)
			ms = append(ms, member{name: "blobs/sha256/" + h, data: string(l)})
		} else {
			names = append(names, h+"/layer.tar")
			ms = append(ms, member{name: h + "/", dir: true}, member{name: h + "/VERSION", data: "1.0"},
				member{name: h + "/json", data: `{"id":"` + h + `"}`}, member{name: h + "/layer.tar", data: string(l)})
		}
	}
	cfg := strings.Replace(config, "DIFFIDS", strings.Join(ids, ","), 1)
	cfgName := sha([]byte(cfg)) + ".json"
	if oci {
		cfgName = "blobs/sha256/" + sha([]byte(cfg))
	}
	ms = append(ms, member{name: cfgName, data: cfg})
	man, _ := json.Marshal([]manifestEntry{{Config: cfgName, RepoTags: []string{"agent:latest"}, Layers: names}})
	ms = append(ms, member{name: "manifest.json", data: string(man)}, member{name: "repositories", data: `{"agent":{"latest":"x"}}`})
	if oci {
		ms = append(ms, member{name: "index.json", data: `{"manifests":[]}`}, member{name: "oci-layout", data: `{"imageLayoutVersion":"1.0.0"}`})
	}
	return tarOf(t, ms...)
}

const config = `{"architecture":"amd64","created":"2026-01-02T03:04:05Z","config":{"User":"node","Env":["PATH=/usr/local/bin:/usr/bin:/bin"],"Entrypoint":["/agent"],"Cmd":["check"],"WorkingDir":"/w"},"history":[{"created_by":"base"}],"rootfs":{"type":"layers","diff_ids":[DIFFIDS]}}`

func TestInspect(t *testing.T) {
	base := tarOf(t,
		member{name: "usr/", dir: true}, member{name: "usr/bin/", dir: true},
		member{name: "bin", link: "usr/bin"},
		member{name: "usr/bin/tar", data: "ELF"},
		member{name: "usr/bin/sleep", data: "ELF"},
		member{name: "usr/bin/kill", data: "ELF"},
		member{name: "etc/passwd", data: "root:x:0:0::/root:/bin/sh\n"},
		member{name: "usr/share/doc/sh/", dir: true},
	)
	// a later layer: its own passwd through a symlink, kill removed, sh added
	top := tarOf(t,
		member{name: "etc/passwd", link: "passwd.real"},
		member{name: "etc/passwd.real", data: "root:x:0:0::/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n"},
		member{name: "etc/group", data: "node:x:1000:\n"},
		member{name: "usr/bin/.wh.kill"},
		member{name: "bin/sh", link: "busybox"},
	)
	for _, oci := range []bool{false, true} {
		f, err := Inspect(bytes.NewReader(saved(t, oci, config, base, top)), []string{"sleep", "tar", "kill", "sh"})
		if err != nil {
			t.Fatalf("oci=%v: %v", oci, err)
		}
		if f.Config.User != "node" || f.Config.Path() != "/usr/local/bin:/usr/bin:/bin" || f.Config.Entrypoint[0] != "/agent" || f.Config.Cmd[0] != "check" || f.Config.WorkingDir != "/w" {
			t.Errorf("oci=%v: config %+v", oci, f.Config)
		}
		if !strings.Contains(string(f.Passwd), "node:x:1000") || string(f.Group) != "node:x:1000:\n" {
			t.Errorf("oci=%v: passwd %q group %q", oci, f.Passwd, f.Group)
		}
		// /bin is a symlink to usr/bin; kill was whited out; sh is in bin
		want := map[string]bool{"sleep": true, "tar": true, "sh": true}
		if len(f.Tools) != len(want) || !f.Tools["sleep"] || !f.Tools["tar"] || !f.Tools["sh"] {
			t.Errorf("oci=%v: tools %v, want %v", oci, f.Tools, want)
		}
	}
}

func TestInspectOpaqueGzipAndSharedLayer(t *testing.T) {
	base := tarOf(t, member{name: "bin/", dir: true}, member{name: "bin/tar", data: "x"}, member{name: "bin/sleep", data: "x"})
	// an opaque bin/ hides the lower tar; the layer is gzipped
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarOf(t, member{name: "bin/", dir: true}, member{name: "bin/.wh..wh..opq"}, member{name: "bin/sleep", data: "y"}))
	zw.Close()
	arch := saved(t, false, config, base, gz.Bytes())
	f, err := Inspect(bytes.NewReader(arch), []string{"sleep", "tar"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Tools["tar"] || !f.Tools["sleep"] {
		t.Errorf("tools %v: want sleep only (an opaque dir hides the lower tar)", f.Tools)
	}
	if f.Passwd != nil {
		t.Errorf("passwd %q, want none", f.Passwd)
	}

	// docker save writes a layer that two images share once, the other
	// place a symlink to it
	l := tarOf(t, member{name: "bin/tar", data: "x"})
	h := sha(l)
	cfg := strings.Replace(config, "DIFFIDS", `"sha256:`+h+`","sha256:`+h+`"`, 1)
	man, _ := json.Marshal([]manifestEntry{{Config: "c.json", Layers: []string{h + "/layer.tar", "dup/layer.tar"}}})
	arch = tarOf(t, member{name: h + "/layer.tar", data: string(l)}, member{name: "dup/layer.tar", link: "../" + h + "/layer.tar"},
		member{name: "c.json", data: cfg}, member{name: "manifest.json", data: string(man)})
	if f, err = Inspect(bytes.NewReader(arch), []string{"tar"}); err != nil || !f.Tools["tar"] {
		t.Errorf("a shared layer: %v, %v", f.Tools, err)
	}
}

func TestInspectRefuses(t *testing.T) {
	l := tarOf(t, member{name: "bin/tar", data: "x"})
	for name, arch := range map[string][]byte{
		"no manifest": tarOf(t, member{name: "x.json", data: "{}"}),
		"two images":  tarOf(t, member{name: "manifest.json", data: `[{"Config":"a.json"},{"Config":"b.json"}]`}),
		"no config":   tarOf(t, member{name: "manifest.json", data: `[{"Config":"a.json","Layers":[]}]`}),
		"no layer":    tarOf(t, member{name: "a.json", data: config}, member{name: "manifest.json", data: `[{"Config":"a.json","Layers":["l/layer.tar"]}]`}),
		"not a tar":   []byte("this is no archive at all, and it is long enough to be read as a tar header block......."),
		"bad layer": tarOf(t, member{name: "a.json", data: config}, member{name: "l/layer.tar", data: "not a tar, but long enough " + strings.Repeat("x", 600)},
			member{name: "manifest.json", data: `[{"Config":"a.json","Layers":["l/layer.tar"]}]`}),
	} {
		if _, err := Inspect(bytes.NewReader(arch), []string{"tar"}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Inspect(bytes.NewReader(saved(t, false, config, l)), nil); err != nil {
		t.Errorf("a good archive: %v", err)
	}
}

func TestLayerIsDeterministic(t *testing.T) {
	es := []Entry{{Path: "/home/agent", Mode: 0o755, UID: 1000, GID: 1000, Dir: true}, {Path: "/home/agent/f", Mode: 0o600, UID: 1000, GID: 1000, Data: []byte("x")}}
	a, err := Layer(es)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Layer(es)
	if !bytes.Equal(a, b) {
		t.Error("the same entries made two layers: every launch would give smolvm another image to cache")
	}
	tr := tar.NewReader(bytes.NewReader(a))
	h, _ := tr.Next()
	if h.Name != "home/agent/" || h.Typeflag != tar.TypeDir || h.Uid != 1000 || h.Gid != 1000 || h.Mode != 0o755 {
		t.Errorf("first entry %+v", h)
	}
	h, _ = tr.Next()
	if h.Name != "home/agent/f" || h.Mode != 0o600 || h.Size != 1 {
		t.Errorf("second entry %+v", h)
	}
}

func TestExtend(t *testing.T) {
	base := tarOf(t, member{name: "bin/tar", data: "x"}, member{name: "etc/passwd", data: "node:x:1000:1000::/:/bin/sh\n"})
	layer, err := Layer([]Entry{{Path: "/home/agent", Mode: 0o755, UID: 1000, GID: 1000, Dir: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, oci := range []bool{false, true} {
		in := saved(t, oci, config, base)
		var out bytes.Buffer
		id, err := Extend(bytes.NewReader(in), &out, layer, "test: the home")
		if err != nil {
			t.Fatalf("oci=%v: %v", oci, err)
		}
		// every member of the input is there unchanged, but the four
		// rewritten; the manifest is new
		members := map[string][]byte{}
		tr := tar.NewReader(bytes.NewReader(out.Bytes()))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(tr)
			members[h.Name] = data
		}
		for _, gone := range []string{"repositories", "index.json", "oci-layout"} {
			if _, ok := members[gone]; ok {
				t.Errorf("oci=%v: %s kept", oci, gone)
			}
		}
		var man []manifestEntry
		if err := json.Unmarshal(members["manifest.json"], &man); err != nil || len(man) != 1 {
			t.Fatalf("oci=%v: manifest %s: %v", oci, members["manifest.json"], err)
		}
		m := man[0]
		if len(m.RepoTags) != 0 {
			t.Errorf("oci=%v: RepoTags %v kept: loading the image would move the tag", oci, m.RepoTags)
		}
		if len(m.Layers) != 2 || !bytes.Equal(members[m.Layers[1]], layer) {
			t.Fatalf("oci=%v: layers %v", oci, m.Layers)
		}
		cfg := members[m.Config]
		if "sha256:"+sha(cfg) != id {
			t.Errorf("oci=%v: ID %s is not the config's digest", oci, id)
		}
		var c struct {
			Config  Config `json:"config"`
			Created string `json:"created"`
			RootFS  struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
			History []map[string]string `json:"history"`
		}
		if err := json.Unmarshal(cfg, &c); err != nil {
			t.Fatal(err)
		}
		if len(c.RootFS.DiffIDs) != 2 || c.RootFS.DiffIDs[1] != "sha256:"+sha(layer) || c.RootFS.DiffIDs[0] != "sha256:"+sha(base) {
			t.Errorf("oci=%v: diff_ids %v", oci, c.RootFS.DiffIDs)
		}
		if len(c.History) != 2 || c.History[1]["created_by"] != "test: the home" || c.History[1]["created"] != "2026-01-02T03:04:05Z" {
			t.Errorf("oci=%v: history %v", oci, c.History)
		}
		if c.Config.User != "node" || c.Created != "2026-01-02T03:04:05Z" {
			t.Errorf("oci=%v: config changed: %+v", oci, c)
		}
		// the result reads as an image again, passwd and all
		f, err := Inspect(bytes.NewReader(out.Bytes()), []string{"tar"})
		if err != nil || !f.Tools["tar"] || !strings.Contains(string(f.Passwd), "node") {
			t.Errorf("oci=%v: the extended archive: %+v, %v", oci, f, err)
		}
		// and extending the same archive again gives the same image
		var again bytes.Buffer
		if id2, err := Extend(bytes.NewReader(in), &again, layer, "test: the home"); err != nil || id2 != id {
			t.Errorf("oci=%v: again: %s, %v; want %s", oci, id2, err, id)
		}
	}
}

// ExtendAs sets the new image's USER, and only that, in its config; the
// image read back says so.
func TestExtendAs(t *testing.T) {
	base := tarOf(t, member{name: "bin/tar", data: "x"})
	layer, err := Layer([]Entry{{Path: "/home/agent", Mode: 0o755, UID: 1000, GID: 1000, Dir: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"1000:1000", ""} {
		var out bytes.Buffer
		if _, err := ExtendAs(bytes.NewReader(saved(t, false, config, base)), &out, layer, "test", user); err != nil {
			t.Fatal(err)
		}
		facts, err := Inspect(bytes.NewReader(out.Bytes()), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := user
		if want == "" {
			orig, err := Inspect(bytes.NewReader(saved(t, false, config, base)), nil)
			if err != nil {
				t.Fatal(err)
			}
			want = orig.Config.User
		}
		if facts.Config.User != want {
			t.Errorf("ExtendAs(%q): USER %q, want %q", user, facts.Config.User, want)
		}
	}
}
