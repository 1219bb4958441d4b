package bottle

// The shape of a bottle: what its resources are called, the labels the
// toolkit writes on them, where things sit inside its containers and what
// its state dir holds. bottle-launch makes bottles of this shape; every
// other package reads it from here, never from the package that makes them.

// Services, and the keys of networks and volumes, as a compose file names them.
const (
	ServiceAgent   = "agent"
	ServiceSidecar = "sidecar"
	NetInternal    = "internal"
	NetEgress      = "egress"
	VolHome        = "home"
	// ServiceProbe is the short-lived container bottle-launch runs on the
	// agent's network, before the agent starts, to check that it reaches
	// the sidecar (a one-off of the project, removed before the launch
	// returns).
	ServiceProbe = "isolation-probe"
)

// The toolkit's own labels, on every container, network and volume
// bottle-launch makes (a smolmachines bottle's: its bundle container and
// network).
const (
	LabelSlug    = "dev.bottle.slug"
	LabelAgent   = "dev.bottle.agent"
	LabelVersion = "dev.bottle.version"
	// LabelStateDir is the absolute path of the bottle's state dir
	// (<state root>/<slug>): whose bottle it is. A plan made with another
	// state root leaves it alone while that dir exists.
	LabelStateDir = "dev.bottle.state-dir"
	// LabelEngine is the ID of the engine it was made on (GET /info's
	// "ID"), as bottle.json's engine_id records it.
	LabelEngine = "dev.bottle.engine"
)

// ContainerName is a service's container in a project, as compose names it:
// <project>-<service>-1.
func ContainerName(project, service string) string { return project + "-" + service + "-1" }

// NetworkName is a project's network of a key, as compose names it: <project>_<key>.
func NetworkName(project, key string) string { return project + "_" + key }

// VolumeName is a project's volume of a key, as compose names it: <project>_<key>.
func VolumeName(project, key string) string { return project + "_" + key }

// Where things sit inside a bottle's containers.
const (
	AgentHome       = "/home/agent"
	AgentWorkspace  = "/workspace"
	AgentCAPath     = "/usr/local/share/ca-certificates/bottle-proxy-ca.crt"
	AgentPrompt     = AgentHome + "/prompt.md"
	AgentSkills     = AgentHome + "/.claude/skills"
	AgentTranscript = AgentHome + "/.claude/projects"
	SidecarDir      = "/etc/pipelock"
	SidecarConfig   = SidecarDir + "/pipelock.yaml"
	SidecarCACert   = SidecarDir + "/ca.pem"
	SidecarCAKey    = SidecarDir + "/ca-key.pem"
)

// File names inside a state dir.
const (
	PreserveFile = ".preserve"
	LockFile     = ".lock"
	MetaFile     = "bottle.json"
	ComposeFile  = "compose.json"
	// SeccompFile is the agent's seccomp profile, which compose.json
	// names (compose reads a profile from a file only).
	SeccompFile = "seccomp.json"
	GuardianLog = "guardian.log"
	// TranscriptDir is where the agent's transcript tree is saved. The
	// original tool wrote transcript.jsonl: any entry whose name starts
	// with "transcript" is a transcript.
	TranscriptDir = "transcript"
	// TranscriptPartial is what a save that stopped at one of its bounds
	// (a hostile transcript) kept: a transcript too, though not whole.
	TranscriptPartial = "transcript.partial"
	// Dockerfile is a rebuilt image's Dockerfile ("Dockerfile" or
	// "Dockerfile.*"), which the original tool kept.
	Dockerfile = "Dockerfile"
	// TranscriptOriginal is the transcript the original tool wrote.
	TranscriptOriginal = "transcript.jsonl"
	// TranscriptTemp starts the names of a transcript save's hidden
	// working dirs (a save that was killed leaves one).
	TranscriptTemp = ".transcript-"
	// TempSuffix ends the name a file is written under before it is
	// renamed into place (bottle.json.tmp, compose.json.tmp).
	TempSuffix = ".tmp"
)

// StateFiles are the exact names a bottle (this toolkit's or the original
// tool's) writes at the top of its state dir; with Dockerfile.*,
// TranscriptTemp* and MetaFile/ComposeFile+TempSuffix they are everything
// a state dir may hold (statedir.Looks), but for a file manager's litter
// (OSLitter).
var StateFiles = []string{
	MetaFile, ComposeFile, SeccompFile, LockFile, PreserveFile, GuardianLog,
	TranscriptDir, TranscriptPartial, TranscriptOriginal, Dockerfile,
	MetaFile + TempSuffix, ComposeFile + TempSuffix,
}

// OSLitter are the exact names of the files a desktop's file manager
// leaves in any directory it shows (macOS Finder's .DS_Store, Windows
// Explorer's Thumbs.db and desktop.ini, KDE Dolphin's .directory): a
// state dir, or a state root, holding one is still one. An AppleDouble
// file ("._" and the name of a file beside it, which macOS writes on a
// file system without extended attributes) is litter too when the name
// it follows is a bottle's or litter (statedir.Looks); "._notes.txt" is
// not, nor is any name merely like these.
var OSLitter = []string{".DS_Store", "Thumbs.db", "desktop.ini", ".directory"}

// AppleDouble starts the name of macOS's AppleDouble file of a file.
const AppleDouble = "._"

// The state root: the dir of state dirs.
const (
	// RootMarker is the file bottle-launch writes at the top of a state
	// root it made (or took as one): the cleanup tools act on no other
	// root but the default one.
	RootMarker = ".bottle-state-root"
	// DefaultStateRoot is where the state root is under the home dir when
	// neither --state-dir nor $BOTTLE_STATE_DIR says.
	DefaultStateRoot = ".claude-bottle/state"
)
