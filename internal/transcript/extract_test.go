package transcript

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestExtract(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, typ byte, body string) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Size: int64(len(body)), Mode: 0o644, Linkname: "/etc/passwd"})
		tw.Write([]byte(body))
	}
	add("projects/", tar.TypeDir, "")
	add("projects/a/t.jsonl", tar.TypeReg, "line")
	add("projects/../../evil", tar.TypeReg, "x")
	add("projects/link", tar.TypeSymlink, "")
	tw.Close()
	dest := filepath.Join(t.TempDir(), "transcript")
	wrote, err := Extract(&buf, dest)
	if err != nil || !wrote {
		t.Fatalf("Extract = %v, %v", wrote, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "a", "t.jsonl")); string(b) != "line" {
		t.Errorf("t.jsonl = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dest, "link")); err == nil {
		t.Error("a symlink was extracted")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dest), "..", "evil")); err == nil {
		t.Error("an entry escaped dest")
	}
}
