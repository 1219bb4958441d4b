package statedir

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// BenchmarkScan scans a root of 200 state dirs (20 preserved), each with a
// transcript, every third with a Dockerfile: the benchmark root.
func BenchmarkScan(b *testing.B) {
	root := b.TempDir()
	for i := range 200 {
		d := filepath.Join(root, fmt.Sprintf("s%d-abcde", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		_ = os.WriteFile(filepath.Join(d, "transcript.jsonl"), []byte(`{"role":"user"}`+"\n"), 0o644)
		if i%3 == 0 {
			_ = os.WriteFile(filepath.Join(d, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
		}
		if i >= 180 {
			_ = os.WriteFile(filepath.Join(d, bottle.PreserveFile), nil, 0o644)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		es, err := Scan(root)
		if err != nil || len(es) != 200 {
			b.Fatal(len(es), err)
		}
	}
}
