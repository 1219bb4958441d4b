package launch

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
)

// ComposeVersion is the compose version the labels claim, as compose writes
// its own (no "v"): the release whose labels, aliases and commands bottle's
// are checked against in CI (launch_compose: ls, ps, logs, stop, start,
// down -p; scripts/compose.sh builds it). Compose only writes this label,
// never reads it.
const ComposeVersion = "5.6.0"

// Labels compose writes that bottle-launch writes too.
const (
	// LabelDependsOn lists a container's dependencies as compose writes
	// them: service:condition:restart, comma-separated; compose stops and
	// removes in reverse order of them.
	LabelDependsOn = "com.docker.compose.depends_on"
	// LabelImage is the ID of the container's image.
	LabelImage = "com.docker.compose.image"
	// DependsOnSidecar is the agent's: it starts once the sidecar is healthy.
	DependsOnSidecar = bottle.ServiceSidecar + ":service_healthy:false"
	// ComposeGuardVar, unset, makes compose refuse the compose file.
	ComposeGuardVar = "BOTTLE_COMPOSE_FILE_IS_DOCUMENTATION"
	labelGuard      = "dev.bottle.compose-file"
)

// NewSlug returns "<agent>-<5 random [a-z0-9]>".
func NewSlug(agent string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return agent + "-" + string(b)
}

// Project is the names and labels of one bottle's resources.
type Project struct {
	Name     string // <prefix><slug>
	Slug     string
	Agent    string
	StateDir string // project.working_dir
	Version  string // the toolkit's
	// EngineID is the ID of the engine it is made on ("" when the engine
	// gives none, as a test's may not).
	EngineID string
}

// Owner are the labels that say whose bottle a resource is: its state
// dir and the engine's ID.
func (p Project) Owner() map[string]string {
	l := map[string]string{bottle.LabelStateDir: p.StateDir}
	if p.EngineID != "" {
		l[bottle.LabelEngine] = p.EngineID
	}
	return l
}

// NetworkName is a network's name, as compose names it: <project>_<key>.
func (p Project) NetworkName(key string) string { return bottle.NetworkName(p.Name, key) }

// VolumeName is a volume's name: <project>_<key>.
func (p Project) VolumeName(key string) string { return bottle.VolumeName(p.Name, key) }

// ContainerName is a service's container: <project>-<service>-1.
func (p Project) ContainerName(service string) string { return bottle.ContainerName(p.Name, service) }

// ComposeFile is the compose file the project would have: written into the
// state dir and named by the config_files label, so compose can be pointed
// at it.
func (p Project) ComposeFile() string { return filepath.Join(p.StateDir, bottle.ComposeFile) }

// SeccompFile is the agent's seccomp profile in the state dir, which the
// compose file names.
func (p Project) SeccompFile() string { return filepath.Join(p.StateDir, bottle.SeccompFile) }

func (p Project) own() map[string]string {
	l := p.Owner()
	l[compose.LabelProject] = p.Name
	l[compose.LabelVersion] = ComposeVersion
	l[bottle.LabelSlug] = p.Slug
	l[bottle.LabelAgent] = p.Agent
	l[bottle.LabelVersion] = p.Version
	return l
}

// NetworkLabels are a network's labels; configHash is the hash of its
// definition in the compose file.
func (p Project) NetworkLabels(key, configHash string) map[string]string {
	l := p.own()
	l[compose.LabelNetwork] = key
	l[compose.LabelConfigHash] = configHash
	return l
}

// VolumeLabels are a volume's labels; configHash as for networks.
func (p Project) VolumeLabels(key, configHash string) map[string]string {
	l := p.own()
	l[compose.LabelVolume] = key
	l[compose.LabelConfigHash] = configHash
	return l
}

// ContainerLabels are a service container's labels; configHash is the hash
// of the service's definition (ConfigHash), dependsOn the services it
// depends on as compose's depends_on label lists them ("" for none).
// The image's ID (LabelImage) is added when the container is made.
func (p Project) ContainerLabels(service, configHash, dependsOn string) map[string]string {
	l := p.own()
	l[compose.LabelService] = service
	l[LabelDependsOn] = dependsOn
	l[compose.LabelOneoff] = "False"
	l[compose.LabelNumber] = "1"
	l[compose.LabelConfigHash] = configHash
	l[compose.LabelWorkingDir] = p.StateDir
	l[compose.LabelConfigFile] = p.ComposeFile()
	return l
}

// ConfigHash is what compose's config-hash label holds: a sha256 of the
// service's definition.
func ConfigHash(service any) string {
	b, _ := json.Marshal(service)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Service is one service of the compose file (the subset bottles use).
type Service struct {
	Image         string               `json:"image"`
	ContainerName string               `json:"container_name"`
	Command       []string             `json:"command,omitempty"`
	Environment   map[string]string    `json:"environment,omitempty"`
	WorkingDir    string               `json:"working_dir,omitempty"`
	Networks      map[string]*Aliases  `json:"networks"`
	Volumes       []string             `json:"volumes,omitempty"`
	DependsOn     map[string]DependsOn `json:"depends_on,omitempty"`
	Healthcheck   *ComposeHealthcheck  `json:"healthcheck,omitempty"`
	StdinOpen     bool                 `json:"stdin_open,omitempty"`
	Tty           bool                 `json:"tty,omitempty"`
	Labels        map[string]string    `json:"labels,omitempty"`
	User          string               `json:"user,omitempty"`
	CapDrop       []string             `json:"cap_drop,omitempty"`
	SecurityOpt   []string             `json:"security_opt,omitempty"`
	Sysctls       map[string]string    `json:"sysctls,omitempty"`
}

// DependsOn is compose's long form of a dependency.
type DependsOn struct {
	Condition string `json:"condition"`
}

// ComposeHealthcheck is a healthcheck as a compose file writes it.
type ComposeHealthcheck struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval"`
	Timeout     string   `json:"timeout"`
	StartPeriod string   `json:"start_period"`
	Retries     int      `json:"retries"`
}

// composeGuard is a label whose value compose cannot interpolate unless
// ComposeGuardVar is set: every compose command given this file (-f)
// stops with the message before doing anything. `up` with the file would
// recreate both containers (their config-hash is not one compose
// computes: env values are not in the file) without the sidecar's config,
// the agent's CA and its secrets. Commands given the project name (-p)
// work from labels and are unaffected.
func composeGuard(project string) map[string]string {
	return map[string]string{labelGuard: "${" + ComposeGuardVar + ":?this file only documents a bottle made by bottle-launch: compose up would recreate its containers without their config, CA and secrets. Use docker compose -p " + project + " ps, logs, stop, start or down instead, or bottle-ls and bottle-cleanup}"}
}

// Aliases are a service's names on one network.
type Aliases struct {
	Aliases []string `json:"aliases,omitempty"`
}

// ComposeDoc is the compose file: services, networks and volumes with the
// names the launcher gave them. It has no `version`: compose v2 warns that
// the attribute is obsolete.
type ComposeDoc struct {
	Name     string                    `json:"name"`
	Services map[string]Service        `json:"services"`
	Networks map[string]map[string]any `json:"networks"`
	Volumes  map[string]map[string]any `json:"volumes"`
}

// Compose returns the project's compose file. Values of env are left out
// (they may be secrets); the file documents the project, it is not used
// to make it.
func (p Project) Compose(agent, sidecar Service, extraNetworks []string) ComposeDoc {
	doc := ComposeDoc{
		Name:     p.Name,
		Services: map[string]Service{bottle.ServiceAgent: agent, bottle.ServiceSidecar: sidecar},
		Networks: map[string]map[string]any{bottle.NetInternal: p.networkDef(bottle.NetInternal), bottle.NetEgress: p.networkDef(bottle.NetEgress)},
		Volumes:  map[string]map[string]any{bottle.VolHome: p.volumeDef(bottle.VolHome)},
	}
	for _, n := range extraNetworks {
		doc.Networks[n] = map[string]any{"name": n, "external": true}
	}
	return doc
}

// networkDef is a network of the bottle as the compose file defines it.
func (p Project) networkDef(key string) map[string]any {
	d := map[string]any{"name": p.NetworkName(key)}
	if key == bottle.NetInternal {
		// no route out, and no address of the host on it (see CreateNetwork)
		d["internal"] = true
		d["driver_opts"] = map[string]string{engine.InhibitIPv4: "true"}
	}
	return d
}

// volumeDef is a volume as the compose file defines it.
func (p Project) volumeDef(key string) map[string]any {
	return map[string]any{"name": p.VolumeName(key)}
}

// Env turns an env map into KEY=VALUE lines, sorted.
func Env(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// AgentEnv is the agent's environment: the spec's, then the proxy, the
// CA and home, which the spec cannot override.
func AgentEnv(s Spec) map[string]string {
	env := maps.Clone(s.Env)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, launcherEnv(s))
	return env
}

// launcherEnv is the agent's environment the launcher sets itself: its
// values win over the spec's env of the same names.
func launcherEnv(s Spec) map[string]string {
	env := map[string]string{}
	proxy := "http://" + bottle.ServiceSidecar + ":" + strconv.Itoa(s.Sidecar.Port)
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		env[k] = proxy
	}
	noProxy := strings.Join([]string{"localhost", "127.0.0.1", "::1", bottle.ServiceSidecar}, ",")
	env["NO_PROXY"], env["no_proxy"] = noProxy, noProxy
	env["NODE_EXTRA_CA_CERTS"] = bottle.AgentCAPath
	env["SSL_CERT_FILE"] = bottle.AgentCAPath
	env["HOME"] = bottle.AgentHome
	env["BOTTLE_PROMPT"] = bottle.AgentPrompt
	env["BOTTLE_TRANSCRIPT_DIR"] = bottle.AgentTranscript
	return env
}

func fmtErr(what string, err error) error { return fmt.Errorf("%s: %w", what, err) }
