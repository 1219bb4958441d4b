// Package imagetar reads and extends image archives as `docker save` writes
// them (Docker 20.10's layout: <id>/layer.tar, <config>.json, manifest.json;
// and Docker 25's OCI layout: blobs/sha256/<hex>, with the same
// manifest.json), the form smolvm takes an image in (`smolvm machine create
// --image -`, flattened in the guest by `crane export`, which reads
// manifest.json).
//
// Inspect reads what a launch needs to know of an image without running it:
// its config (user, environment, entrypoint), its own /etc/passwd and
// /etc/group, and which commands are on its PATH. Extend copies an archive
// with one layer appended, so a machine made from it starts with
// directories no command in it could make (smolvm v1.9.3 runs every command
// as the image's USER).
package imagetar

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Limits on what is read into memory: a JSON member (config, manifest) and
// an account file.
const (
	MaxJSON    = 8 << 20
	MaxAccount = 4 << 20
)

// DefaultPath is the PATH a container runtime gives a process whose image
// sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Config is the part of an image's config a launch reads.
type Config struct {
	User       string   `json:"User"`
	Env        []string `json:"Env"`
	Entrypoint []string `json:"Entrypoint"`
	Cmd        []string `json:"Cmd"`
	WorkingDir string   `json:"WorkingDir"`
}

// Path is the image's PATH (DefaultPath when its config sets none).
func (c Config) Path() string {
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return DefaultPath
}

// Facts are what Inspect learned of an image.
type Facts struct {
	Config Config
	// Passwd and Group are the image's /etc/passwd and /etc/group (nil
	// when it has none).
	Passwd, Group []byte
	// Tools are the asked-for commands found in a directory of the image's
	// PATH (a file or a symlink there; not checked further).
	Tools map[string]bool
}

type manifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// node is one path of interest in a layer.
type node struct {
	link string // a symlink's target
	data []byte // a regular file's contents (account files only)
	dir  bool
}

// layerFacts are the paths of interest one layer holds, and its whiteouts.
type layerFacts struct {
	nodes   map[string]node
	deleted []string // paths it removes from the layers below
	opaque  []string // directories whose lower contents it hides
	err     error    // not readable as a layer
}

// Inspect reads an archive once and reports its image's facts; tools are
// the command names to look for on its PATH. Only an archive of one image
// is read.
func Inspect(r io.Reader, tools []string) (Facts, error) {
	tr := tar.NewReader(r)
	jsons := map[string][]byte{}
	layers := map[string]*layerFacts{}
	links := map[string]string{} // archive member symlinks (a layer saved twice)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Facts{}, fmt.Errorf("reading the image archive: %w", err)
		}
		name := clean(h.Name)
		switch h.Typeflag {
		case tar.TypeSymlink:
			links[name] = clean(path.Join(path.Dir(name), h.Linkname))
			continue
		case tar.TypeReg:
		default:
			continue
		}
		br := bufio.NewReaderSize(tr, 64<<10)
		first, _ := br.Peek(1)
		if len(first) == 1 && (first[0] == '{' || first[0] == '[') {
			data, err := io.ReadAll(io.LimitReader(br, MaxJSON+1))
			if err != nil {
				return Facts{}, fmt.Errorf("reading %s of the image archive: %w", name, err)
			}
			if len(data) <= MaxJSON {
				jsons[name] = data
			}
			continue
		}
		layers[name] = scanLayer(br, tools)
	}
	m, err := readManifest(jsons["manifest.json"])
	if err != nil {
		return Facts{}, err
	}
	var f Facts
	cfg, ok := jsons[m.Config]
	if !ok {
		return Facts{}, fmt.Errorf("the image archive has no config %s (its manifest.json names it)", m.Config)
	}
	var c struct {
		Config Config `json:"config"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		return Facts{}, fmt.Errorf("the image archive's config %s: %w", m.Config, err)
	}
	f.Config = c.Config

	// The file system the layers make, for the paths of interest only.
	view := map[string]node{}
	for _, l := range m.Layers {
		lf := layers[l]
		for hops := 0; lf == nil && hops < 8; hops++ {
			target, ok := links[l]
			if !ok {
				break
			}
			l, lf = target, layers[target]
		}
		if lf == nil {
			return Facts{}, fmt.Errorf("the image archive lacks layer %s (its manifest.json names it)", l)
		}
		if lf.err != nil {
			return Facts{}, fmt.Errorf("the image archive's layer %s: %w", l, lf.err)
		}
		for _, d := range lf.opaque {
			for p := range view {
				if strings.HasPrefix(p, d+"/") {
					delete(view, p)
				}
			}
		}
		for _, d := range lf.deleted {
			for p := range view {
				if p == d || strings.HasPrefix(p, d+"/") {
					delete(view, p)
				}
			}
		}
		for p, n := range lf.nodes {
			view[p] = n
		}
	}
	f.Passwd = account(view, "etc/passwd")
	f.Group = account(view, "etc/group")
	f.Tools = map[string]bool{}
	for _, dir := range strings.Split(f.Config.Path(), ":") {
		for _, d := range []string{clean(dir), resolveDir(view, clean(dir))} {
			for _, t := range tools {
				if n, ok := view[d+"/"+t]; ok && !n.dir {
					f.Tools[t] = true
				}
			}
		}
	}
	return f, nil
}

func readManifest(data []byte) (manifestEntry, error) {
	if data == nil {
		return manifestEntry{}, errors.New("the image archive has no manifest.json: not an archive `docker save` wrote")
	}
	var ms []manifestEntry
	if err := json.Unmarshal(data, &ms); err != nil {
		return manifestEntry{}, fmt.Errorf("the image archive's manifest.json: %w", err)
	}
	if len(ms) != 1 || ms[0].Config == "" {
		return manifestEntry{}, fmt.Errorf("the image archive's manifest.json lists %d images; one was saved", len(ms))
	}
	ms[0].Config = clean(ms[0].Config)
	for i := range ms[0].Layers {
		ms[0].Layers[i] = clean(ms[0].Layers[i])
	}
	return ms[0], nil
}

// scanLayer reads a layer tar (gzipped or not) for the paths of interest:
// the account files, every entry that could be a command (any non-directory
// directly in a directory), the symlinks among top-level directories, and
// the whiteouts.
func scanLayer(r *bufio.Reader, tools []string) *layerFacts {
	lf := &layerFacts{nodes: map[string]node{}}
	var src io.Reader = r
	if magic, _ := r.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			lf.err = err
			return lf
		}
		defer zr.Close()
		src = zr
	}
	want := map[string]bool{}
	for _, t := range tools {
		want[t] = true
	}
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return lf
		}
		if err != nil {
			lf.err = err
			return lf
		}
		name := clean(h.Name)
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == ".wh..wh..opq":
			lf.opaque = append(lf.opaque, dir)
			continue
		case strings.HasPrefix(base, ".wh."):
			lf.deleted = append(lf.deleted, path.Join(dir, strings.TrimPrefix(base, ".wh.")))
			continue
		}
		switch {
		case accountFile(name):
			n := node{link: h.Linkname}
			if h.Typeflag == tar.TypeReg {
				n.link = ""
				data, err := io.ReadAll(io.LimitReader(tr, MaxAccount+1))
				if err != nil {
					lf.err = err
					return lf
				}
				if len(data) > MaxAccount {
					data = data[:MaxAccount]
				}
				n.data = data
			}
			lf.nodes[name] = n
		case want[base]:
			lf.nodes[name] = node{link: h.Linkname, dir: h.Typeflag == tar.TypeDir}
		case h.Typeflag == tar.TypeSymlink && !strings.Contains(strings.TrimPrefix(name, "usr/"), "/"):
			// bin -> usr/bin, usr/local -> ..., sbin -> usr/sbin
			lf.nodes[name] = node{link: h.Linkname}
		case h.Typeflag == tar.TypeDir && !strings.Contains(strings.TrimPrefix(name, "usr/"), "/"):
			// a directory again where a lower layer had a symlink
			lf.nodes[name] = node{dir: true}
		}
	}
}

// accountFile reports whether a layer member may be an account file or the
// target of an account file's symlink (etc/passwd -> passwd.real).
func accountFile(name string) bool {
	dir, base := path.Split(name)
	return dir == "etc/" && (strings.HasPrefix(base, "passwd") || strings.HasPrefix(base, "group"))
}

// account returns an account file's contents, following one symlink.
func account(view map[string]node, p string) []byte {
	n, ok := view[p]
	if !ok {
		return nil
	}
	if n.link != "" {
		target := n.link
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(p), target)
		}
		if t, ok := view[clean(target)]; ok && t.link == "" {
			return t.data
		}
		return nil
	}
	return n.data
}

// resolveDir follows symlinks among the directories of a PATH entry
// (bin -> usr/bin), a few hops at most.
func resolveDir(view map[string]node, d string) string {
	for hops := 0; hops < 8; hops++ {
		changed := false
		parts := strings.Split(d, "/")
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			n, ok := view[prefix]
			if !ok || n.link == "" {
				continue
			}
			target := n.link
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(prefix), target)
			}
			d = clean(path.Join(append([]string{target}, parts[i:]...)...))
			changed = true
			break
		}
		if !changed {
			break
		}
	}
	return d
}

// clean makes an archive or layer member name relative and clean.
func clean(name string) string {
	name = path.Clean("/" + name)
	return strings.TrimPrefix(name, "/")
}

// Entry is one member of a layer to append: a directory or a regular file.
type Entry struct {
	Path     string // absolute path in the image
	Mode     int64
	UID, GID int
	Dir      bool
	Data     []byte
}

// Layer returns a layer tar of entries, in order, with a fixed time, so the
// same entries always make the same layer (and the same image).
func Layer(entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: clean(e.Path), Mode: e.Mode, Uid: e.UID, Gid: e.GID, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if e.Dir {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.Data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Extend copies the archive r to w with layer appended on top: every member
// passes through unchanged except manifest.json, repositories, index.json
// and oci-layout, which are written anew (manifest.json names a new config
// — the old one with the layer's diff_id and a history entry saying by —
// and the layers with the new one last; RepoTags are dropped, so loading
// the result never moves a tag). It returns the new image's ID
// (sha256:<hex> of its config).
func Extend(r io.Reader, w io.Writer, layer []byte, by string) (string, error) {
	return ExtendAs(r, w, layer, by, "")
}

// ExtendAs is Extend that also sets the new config's User (the image's
// USER) to user; "" keeps the image's.
func ExtendAs(r io.Reader, w io.Writer, layer []byte, by, user string) (string, error) {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	jsons := map[string][]byte{}
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading the image archive: %w", err)
		}
		name := clean(h.Name)
		seen[name] = true
		switch name {
		case "manifest.json", "repositories", "index.json", "oci-layout":
			if name == "manifest.json" {
				data, err := io.ReadAll(io.LimitReader(tr, MaxJSON+1))
				if err != nil {
					return "", err
				}
				jsons[name] = data
			}
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return "", err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		br := bufio.NewReaderSize(tr, 64<<10)
		if first, _ := br.Peek(1); len(first) == 1 && first[0] == '{' && h.Size <= MaxJSON {
			data, err := io.ReadAll(br)
			if err != nil {
				return "", err
			}
			jsons[name] = data
			if _, err := tw.Write(data); err != nil {
				return "", err
			}
			continue
		}
		if _, err := io.Copy(tw, br); err != nil {
			return "", err
		}
	}
	m, err := readManifest(jsons["manifest.json"])
	if err != nil {
		return "", err
	}
	cfg, ok := jsons[m.Config]
	if !ok {
		return "", fmt.Errorf("the image archive has no config %s (its manifest.json names it)", m.Config)
	}
	sum := sha256.Sum256(layer)
	layerHex := hex.EncodeToString(sum[:])
	newCfg, err := extendConfig(cfg, "sha256:"+layerHex, by, user)
	if err != nil {
		return "", fmt.Errorf("the image archive's config %s: %w", m.Config, err)
	}
	csum := sha256.Sum256(newCfg)
	cfgHex := hex.EncodeToString(csum[:])
	oci := strings.HasPrefix(m.Config, "blobs/")
	layerName, cfgName := layerHex+"/layer.tar", cfgHex+".json"
	if oci {
		layerName, cfgName = "blobs/sha256/"+layerHex, "blobs/sha256/"+cfgHex
	}
	now := time.Unix(0, 0)
	if !seen[layerName] {
		if !oci {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: layerHex + "/", Mode: 0o755, ModTime: now}); err != nil {
				return "", err
			}
		}
		if err := writeMember(tw, layerName, layer, now); err != nil {
			return "", err
		}
	}
	if !seen[cfgName] {
		if err := writeMember(tw, cfgName, newCfg, now); err != nil {
			return "", err
		}
	}
	man, err := json.Marshal([]manifestEntry{{Config: cfgName, RepoTags: nil, Layers: append(m.Layers, layerName)}})
	if err != nil {
		return "", err
	}
	if err := writeMember(tw, "manifest.json", man, now); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return "sha256:" + cfgHex, nil
}

func writeMember(tw *tar.Writer, name string, data []byte, t time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: t}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// extendConfig appends diffID to the config's rootfs.diff_ids and a history
// entry, keeping every other field as it was.
func extendConfig(cfg []byte, diffID, by, user string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(cfg, &doc); err != nil {
		return nil, err
	}
	if user != "" {
		var c map[string]json.RawMessage
		if raw, ok := doc["config"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
		}
		if c == nil {
			c = map[string]json.RawMessage{}
		}
		u, _ := json.Marshal(user)
		c["User"] = u
		raw, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		doc["config"] = raw
	}
	var rootfs map[string]json.RawMessage
	if err := json.Unmarshal(doc["rootfs"], &rootfs); err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	var ids []string
	if err := json.Unmarshal(rootfs["diff_ids"], &ids); err != nil {
		return nil, fmt.Errorf("rootfs.diff_ids: %w", err)
	}
	var err error
	if rootfs["diff_ids"], err = json.Marshal(append(ids, diffID)); err != nil {
		return nil, err
	}
	if doc["rootfs"], err = json.Marshal(rootfs); err != nil {
		return nil, err
	}
	var history []json.RawMessage
	if raw, ok := doc["history"]; ok {
		if err := json.Unmarshal(raw, &history); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
	}
	entry := map[string]string{"created_by": by, "comment": "bottle-launch"}
	var created string
	if raw, ok := doc["created"]; ok && json.Unmarshal(raw, &created) == nil && created != "" {
		entry["created"] = created
	}
	e, err := json.Marshal(entry)
	if err != nil {
		return nil, err
	}
	if doc["history"], err = json.Marshal(append(history, e)); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}
