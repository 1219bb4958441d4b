package transcript

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Extract unpacks a tar whose entries all sit under one top directory into
// dest, without that top directory. Only regular files and directories are
// written, never outside dest. It reports whether any file was written.
func Extract(r io.Reader, dest string) (bool, error) {
	tr := tar.NewReader(r)
	wrote := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return wrote, nil
		}
		if err != nil {
			return wrote, err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		_, rest, ok := strings.Cut(name, "/")
		if !ok || rest == "" || rest == ".." || strings.HasPrefix(rest, "../") {
			continue
		}
		target := filepath.Join(dest, filepath.FromSlash(rest))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return wrote, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return wrote, err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return wrote, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return wrote, err
			}
			wrote = true
		}
	}
}
