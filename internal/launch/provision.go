package launch

import (
	"archive/tar"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// CA is a bottle's own certificate authority: the sidecar signs the
// certificates it intercepts TLS with, the agent trusts it.
type CA struct {
	CertPEM, KeyPEM []byte
}

// NewCA makes a fresh CA (ECDSA P-256, valid for 30 days) named for the bottle.
func NewCA(name string, now time.Time) (CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CA{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return CA{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "bottle egress CA " + name, Organization: []string{"bottle"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return CA{}, err
	}
	// SEC1, not PKCS#8: pipelock reads the key with x509.ParseECPrivateKey
	// (internal/certgen LoadCA) and exits at start-up on a PKCS#8 key.
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return CA{}, err
	}
	return CA{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}, nil
}

// PipelockConfig is the sidecar's configuration: pipelock's forward proxy
// on every interface at port, strict mode (only the allow list passes;
// pipelock refuses an empty one), the trusted hosts exempt from its SSRF
// check (private addresses), TLS interception with the bottle's CA except
// for the passthrough hosts. Every key is one pipelock v2.3 knows: it
// refuses unknown keys.
func PipelockConfig(s Spec) []byte {
	var b strings.Builder
	list := func(key, indent string, hosts []string) {
		fmt.Fprintf(&b, "%s%s:", indent, key)
		if len(hosts) == 0 {
			b.WriteString(" []")
		}
		b.WriteString("\n")
		for _, h := range hosts {
			fmt.Fprintf(&b, "%s  - %s\n", indent, strconv.Quote(h))
		}
	}
	b.WriteString("# Written by bottle-launch for this bottle only.\nversion: 1\nmode: strict\nenforce: true\n")
	list("api_allowlist", "", s.AllowList())
	if len(s.Sidecar.Trusted) > 0 {
		list("trusted_domains", "", s.Sidecar.Trusted)
	}
	fmt.Fprintf(&b, "fetch_proxy:\n  listen: \"0.0.0.0:%d\"\n", s.Sidecar.Port)
	b.WriteString("forward_proxy:\n  enabled: true\n")
	fmt.Fprintf(&b, "tls_interception:\n  enabled: true\n  ca_cert: %q\n  ca_key: %q\n", bottle.SidecarCACert, bottle.SidecarCAKey)
	list("passthrough_domains", "  ", s.Sidecar.Passthrough)
	return []byte(b.String())
}

// Archive is a tar archive built in memory, rooted at "/": entries are
// absolute container paths, parent directories included once.
type Archive struct {
	buf  bytes.Buffer
	tw   *tar.Writer
	dirs map[string]bool
	now  time.Time
}

// NewArchive starts an archive.
func NewArchive(now time.Time) *Archive {
	a := &Archive{dirs: map[string]bool{"/": true}, now: now}
	a.tw = tar.NewWriter(&a.buf)
	return a
}

func (a *Archive) dir(p string, mode int64) error {
	p = path.Clean(p)
	if a.dirs[p] {
		return nil
	}
	if err := a.dir(path.Dir(p), 0o755); err != nil {
		return err
	}
	a.dirs[p] = true
	return a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(p, "/") + "/", Mode: mode, ModTime: a.now})
}

// File adds a file with its parents.
func (a *Archive) File(p string, mode int64, data []byte) error {
	if err := a.dir(path.Dir(p), 0o755); err != nil {
		return err
	}
	if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path.Clean(p), "/"), Mode: mode, Size: int64(len(data)), ModTime: a.now}); err != nil {
		return err
	}
	_, err := a.tw.Write(data)
	return err
}

// Tree adds a host directory's regular files and directories under p,
// at most MaxTreeBytes in all. The directory itself may be a symlink (it
// is followed once); symlinks and special files inside it are left out:
// nothing outside the tree is ever copied in.
func (a *Archive) Tree(p, dir string) error {
	hostDir, err := hostDir(dir, "skills")
	if err != nil {
		return err
	}
	if err := a.dir(p, 0o755); err != nil {
		return err
	}
	var total int64
	files, skipped := 0, 0
	err = filepath.WalkDir(hostDir, func(hp string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(hostDir, hp)
		if err != nil || rel == "." {
			return err
		}
		target := path.Join(p, filepath.ToSlash(rel))
		fi, err := de.Info()
		if err != nil {
			return err
		}
		switch {
		case de.IsDir():
			return a.dir(target, int64(fi.Mode().Perm()))
		case fi.Mode().IsRegular():
			data, err := readHostFile(hp, "skills file", MaxFileBytes)
			if err != nil {
				return err
			}
			if total += int64(len(data)); total > MaxTreeBytes {
				return bad("skills %s holds more than %d bytes of files", dir, MaxTreeBytes)
			}
			files++
			return a.File(target, int64(fi.Mode().Perm()), data)
		}
		skipped++
		return nil
	})
	if err == nil && files == 0 && skipped > 0 {
		// never copy nothing without saying so
		return bad("skills %s holds no regular file, only %d symlinks or special files (which are never copied): give a directory of skill files", dir, skipped)
	}
	return err
}

// Bytes closes the archive and returns it.
func (a *Archive) Bytes() ([]byte, error) {
	if err := a.tw.Close(); err != nil {
		return nil, err
	}
	return a.buf.Bytes(), nil
}

// AgentFiles is what the agent container gets: the CA, the prompt, the
// skills tree, git config and credential.
func AgentFiles(s Spec, ca CA, now time.Time) ([]byte, error) {
	a := NewArchive(now)
	if err := a.File(bottle.AgentCAPath, 0o644, ca.CertPEM); err != nil {
		return nil, err
	}
	if err := a.dir(bottle.AgentHome, 0o755); err != nil {
		return nil, err
	}
	if err := a.dir(bottle.AgentTranscript, 0o755); err != nil {
		return nil, err
	}
	if s.Prompt != "" {
		data, err := readHostFile(s.Prompt, "prompt", MaxFileBytes)
		if err != nil {
			return nil, err
		}
		if err := a.File(bottle.AgentPrompt, 0o644, data); err != nil {
			return nil, err
		}
	}
	if s.Skills != "" {
		if err := a.Tree(bottle.AgentSkills, s.Skills); err != nil {
			return nil, err
		}
	}
	if g := s.Git; g != nil {
		cfg, cred, err := gitFiles(*g)
		if err != nil {
			return nil, err
		}
		if cred != nil {
			if err := a.File(bottle.AgentHome+"/.git-credentials", 0o600, cred); err != nil {
				return nil, err
			}
		}
		if cfg != nil {
			if err := a.File(bottle.AgentHome+"/.gitconfig", 0o644, cfg); err != nil {
				return nil, err
			}
		}
	}
	return a.Bytes()
}

// gitFiles are the agent's ~/.gitconfig (the user, the email, git's store
// helper pointed at the credential) and ~/.git-credentials (the host
// file's contents), each nil when there is nothing to write.
func gitFiles(g Git) (cfg, cred []byte, err error) {
	var b strings.Builder
	if g.User != "" || g.Email != "" {
		b.WriteString("[user]\n")
		if g.User != "" {
			fmt.Fprintf(&b, "\tname = \"%s\"\n", g.User)
		}
		if g.Email != "" {
			fmt.Fprintf(&b, "\temail = \"%s\"\n", g.Email)
		}
	}
	if g.Credential != "" {
		if cred, err = readHostFile(g.Credential, "git credential", MaxFileBytes); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(&b, "[credential]\n\thelper = \"store --file %s/.git-credentials\"\n", bottle.AgentHome)
	}
	if b.Len() > 0 {
		cfg = []byte(b.String())
	}
	return cfg, cred, nil
}

// SidecarFiles is what the sidecar gets: its config and the CA with its key.
func SidecarFiles(s Spec, ca CA, now time.Time) ([]byte, error) {
	a := NewArchive(now)
	for _, f := range []struct {
		p    string
		mode int64
		data []byte
	}{
		{bottle.SidecarConfig, 0o644, PipelockConfig(s)},
		{bottle.SidecarCACert, 0o644, ca.CertPEM},
		{bottle.SidecarCAKey, 0o600, ca.KeyPEM},
	} {
		if err := a.File(f.p, f.mode, f.data); err != nil {
			return nil, err
		}
	}
	return a.Bytes()
}
