package engines

import "github.com/claude-bottle/bottle/internal/engine"

// This file is the one place this package meets the docker CLI's context
// store, through package engine: the names, the current one, and the
// environment a name reads (engine.Resolve resolves it). The "default"
// context is DOCKER_HOST or the default socket, any other is the store's.

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

// Current is the name of the engine the environment names, as the docker
// CLI picks it: "default" when DOCKER_HOST is set, else DOCKER_CONTEXT,
// else currentContext in $DOCKER_CONFIG/config.json, else "default".
func Current(getenv func(string) string) (string, error) { return engine.CurrentContext(getenv) }

// Names lists every engine `docker context ls` lists, "default" among
// them, as the docker CLI's context store holds them.
func Names(getenv func(string) string) ([]string, error) { return engine.ContextNames(getenv) }
