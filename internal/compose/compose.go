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

// InProject reports whether a resource with these labels belongs to a
// compose project of ours (the docker backend's, whatever its name).
func InProject(labels map[string]string, prefix string) bool {
	return bottle.HasPrefix(labels[LabelProject], prefix)
}
