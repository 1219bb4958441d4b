// Package compose holds what docker compose writes on the resources of a
// project — the label names — and what tells a project of ours from
// another. The launcher writes these labels, the docker backend classifies
// and removes by them, and the smolmachines backend uses them to leave the
// docker backend's projects alone.
package compose

import "github.com/claude-bottle/bottle/internal/bottle"

// Compose labels, as docker compose v2 (and v1) write them.
const (
	LabelProject    = "com.docker.compose.project"
	LabelService    = "com.docker.compose.service"
	LabelNetwork    = "com.docker.compose.network"
	LabelVolume     = "com.docker.compose.volume"
	LabelOneoff     = "com.docker.compose.oneoff"
	LabelNumber     = "com.docker.compose.container-number"
	LabelConfigHash = "com.docker.compose.config-hash"
	LabelWorkingDir = "com.docker.compose.project.working_dir"
	LabelConfigFile = "com.docker.compose.project.config_files"
	LabelVersion    = "com.docker.compose.version"
)

// StateDir is the state dir a resource's labels name as its bottle's, or
// "": bottle.LabelStateDir, else, on a container bottle-launch labelled
// (bottle.LabelSlug) before that label was written, the project's working
// dir, which bottle-launch sets to the state dir. A project compose made
// (its working dir is the project's folder) or the original tool's names
// none.
func StateDir(labels map[string]string) string {
	if d := labels[bottle.LabelStateDir]; d != "" {
		return d
	}
	if labels[bottle.LabelSlug] != "" {
		return labels[LabelWorkingDir]
	}
	return ""
}

// InProject reports whether a resource with these labels belongs to a
// compose project of ours (the docker backend's, whatever its name).
func InProject(labels map[string]string, prefix string) bool {
	return bottle.HasPrefix(labels[LabelProject], prefix)
}
