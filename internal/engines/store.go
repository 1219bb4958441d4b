package engines

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// This file is the one place that reads names from the docker CLI's
// context store; the endpoint a name resolves to is engine.Resolve's
// (through Getenv). Both follow the docker CLI: the "default" context is
// DOCKER_HOST or the default socket, any other is the store's.

// Getenv is getenv as it reads for the engine named name, as the docker
// CLI's --context NAME makes it read: DOCKER_CONTEXT is name and, for a
// context of the store, DOCKER_HOST and its TLS variables are not read
// (the context's endpoint is); for "default" DOCKER_HOST still is.
func Getenv(getenv func(string) string, name string) func(string) string {
	return func(k string) string {
		switch k {
		case "DOCKER_CONTEXT":
			return name
		case "DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS":
			if name != Default {
				return ""
			}
		}
		return getenv(k)
	}
}

// configDir is the docker CLI's config dir: $DOCKER_CONFIG, else ~/.docker.
func configDir(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// Current is the name of the engine the environment names, as the docker
// CLI picks it: "default" when DOCKER_HOST is set, else DOCKER_CONTEXT,
// else currentContext in $DOCKER_CONFIG/config.json, else "default".
func Current(getenv func(string) string) (string, error) {
	if getenv("DOCKER_HOST") != "" {
		return Default, nil
	}
	if name := getenv("DOCKER_CONTEXT"); name != "" {
		return name, nil
	}
	path := filepath.Join(configDir(getenv), "config.json")
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return Default, nil
	case err != nil:
		return "", fmt.Errorf("reading docker config: %v; fix it or set DOCKER_HOST", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("docker config %s is not valid JSON: %v; fix it or set DOCKER_HOST", path, err)
	}
	if cfg.CurrentContext == "" {
		return Default, nil
	}
	return cfg.CurrentContext, nil
}

// Names lists every engine `docker context ls` lists: "default" first,
// then the store's contexts by name. A context whose meta.json cannot be
// read is left out here; naming it (--context) says why.
func Names(getenv func(string) string) ([]string, error) {
	dir := filepath.Join(configDir(getenv), "contexts", "meta")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading the docker context store %s: %v", dir, err)
	}
	var names []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if err != nil {
			continue
		}
		var m struct {
			Name string `json:"Name"`
		}
		if json.Unmarshal(b, &m) == nil && m.Name != "" && m.Name != Default {
			names = append(names, m.Name)
		}
	}
	sort.Strings(names)
	return append([]string{Default}, names...), nil
}
