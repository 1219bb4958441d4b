package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	ctxdocker "github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/fvbommel/sortorder"
)

// The docker CLI's contexts are read with its own store package
// (github.com/docker/cli/cli/context/store) and endpoint types
// (cli/context/docker), configured as the CLI configures them
// (command.DefaultContextStoreConfig): whatever `docker context create`
// writes, this reads the same way.

// contextMeta is the context-wide metadata the docker CLI writes
// (command.DockerContext); only the description is known to it.
type contextMeta struct {
	Description string `json:",omitempty"`
}

func contextStore(configDir string) *store.ContextStore {
	return store.New(filepath.Join(configDir, "contexts"), store.NewConfig(
		func() any { return &contextMeta{} },
		store.EndpointTypeGetter(ctxdocker.DockerEndpoint, func() any { return &ctxdocker.EndpointMeta{} }),
	))
}

// ContextNames lists the docker contexts as `docker context ls` does:
// DefaultContext and the store's, sorted by name in natural order.
func ContextNames(getenv func(string) string) ([]string, error) {
	names, err := store.Names(contextStore(configDir(getenv)))
	if err != nil {
		return nil, fmt.Errorf("reading docker contexts in %s: %v", filepath.Join(configDir(getenv), "contexts"), err)
	}
	if !slices.Contains(names, DefaultContext) {
		names = append(names, DefaultContext)
	}
	slices.SortFunc(names, func(a, b string) int {
		if sortorder.NaturalLess(a, b) {
			return -1
		}
		if sortorder.NaturalLess(b, a) {
			return 1
		}
		return 0
	})
	return names, nil
}

// currentContext is the context the docker CLI uses when DOCKER_HOST is
// unset: DOCKER_CONTEXT, else currentContext in config.json, else the
// default; source says which, for messages.
func currentContext(getenv func(string) string) (name, source string, err error) {
	if name := getenv("DOCKER_CONTEXT"); name != "" {
		return name, "DOCKER_CONTEXT", nil
	}
	path := filepath.Join(configDir(getenv), "config.json")
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return DefaultContext, "default", nil
	case err != nil:
		return "", "", fmt.Errorf("reading docker config: %v; fix it or set DOCKER_HOST", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", "", fmt.Errorf("docker config %s is not valid JSON: %v; fix it or set DOCKER_HOST", path, err)
	}
	if cfg.CurrentContext == "" {
		return DefaultContext, "default", nil
	}
	return cfg.CurrentContext, "currentContext in " + path, nil
}

// contextEndpoint fills ep from the docker endpoint of the stored context
// name. TLS is spoken, as the docker CLI does, when the context holds TLS
// material or says SkipTLSVerify (then without verifying, no files
// needed), and never to a socket or over ssh.
func contextEndpoint(ep Endpoint, configDir, name, source string) (Endpoint, error) {
	s := contextStore(configDir)
	meta, err := s.GetMetadata(name)
	switch {
	case cerrdefs.IsNotFound(err):
		return ep, fmt.Errorf("docker context %q (from %s) not found in %s; run `docker context ls`, or set DOCKER_HOST", name, source, filepath.Join(configDir, "contexts"))
	case err != nil:
		return ep, fmt.Errorf("reading docker context (from %s): %v; see `docker context inspect %s`, or set DOCKER_HOST", source, err, name)
	}
	d, err := ctxdocker.EndpointFromContext(meta)
	if err != nil || d.Host == "" {
		return ep, fmt.Errorf("docker context %q has no docker endpoint; run `docker context inspect %s`", name, name)
	}
	ep.Host, ep.Context, ep.Source = d.Host, name, fmt.Sprintf("context %q", name)
	if !plainHTTP(d.Host) {
		files, err := s.ListTLSFiles(name)
		if err != nil {
			return ep, fmt.Errorf("docker context %q: TLS material: %v", name, err)
		}
		dir := filepath.Join(s.GetStorageInfo(name).TLSPath, ctxdocker.DockerEndpoint)
		for _, f := range files[ctxdocker.DockerEndpoint] {
			switch f {
			case "ca.pem":
				ep.CA = filepath.Join(dir, f)
			case "cert.pem":
				ep.Cert = filepath.Join(dir, f)
			case "key.pem":
				ep.Key = filepath.Join(dir, f)
			}
		}
		if ep.CA != "" || ep.Cert != "" || ep.Key != "" || d.SkipTLSVerify {
			ep.TLS, ep.Verify = true, !d.SkipTLSVerify
		}
	}
	return ep, checkHost(ep)
}

// CurrentContext is the name of the context the docker CLI uses: the
// default when DOCKER_HOST is set, else currentContext's answer.
func CurrentContext(getenv func(string) string) (string, error) {
	if getenv("DOCKER_HOST") != "" {
		return DefaultContext, nil
	}
	name, _, err := currentContext(getenv)
	return name, err
}
