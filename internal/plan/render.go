package plan

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/claude-bottle/bottle/internal/ansi"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/transcript"
)

var kindTitle = map[string]string{
	bottle.KindComposeProject: "compose projects",
	bottle.KindContainer:      "containers",
	bottle.KindNetwork:        "networks",
	bottle.KindVolume:         "volumes",
	bottle.KindMachine:        "machines",
	bottle.KindStateDir:       "state dirs",
}

// Render writes the plan for a person: grouped by backend (and, with
// engines, by engine: a run that asked more than one), then by kind, one
// line per item saying what it holds, and a one-line total. Items must be
// sorted (Order). Names are shown ansi.Printable: whatever a name holds, it
// cannot move the cursor or rewrite a line of the plan.
func Render(w io.Writer, items []bottle.Item, now time.Time, color, engines bool) error {
	var b strings.Builder
	backend, engine, kind := "\x00", "", ""
	for _, it := range items {
		if it.Backend != backend || engines && it.Engine != engine {
			backend, engine, kind = it.Backend, it.Engine, ""
			title := ansi.Printable(it.Backend) + " backend"
			if engines {
				title += ", engine " + ansi.Printable(it.Engine)
			}
			fmt.Fprintf(&b, "%s\n", ansi.Paint(color, "bold", "--- "+title+" ---"))
		}
		if it.Kind != kind {
			kind = it.Kind
			fmt.Fprintf(&b, "%s:\n", kindTitle[it.Kind])
		}
		fmt.Fprintf(&b, "  %s\n", describe(it, now, color))
	}
	b.WriteString(Total(items) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func describe(it bottle.Item, now time.Time, color bool) string {
	var parts []string
	switch it.Kind {
	case bottle.KindComposeProject:
		running := 0
		for _, c := range it.Containers {
			if bottle.Active(c.State) {
				running++
			}
		}
		cs := count(len(it.Containers), "container")
		if running > 0 {
			cs += ansi.Paint(color, "yellow", fmt.Sprintf(" (%d running)", running))
		}
		parts = append(parts, cs, count(len(it.Networks), "network"), count(len(it.Volumes), "volume"))
		if len(it.Containers) == 0 {
			parts = append(parts, "no containers left (invisible to docker compose ls)")
		}
		if it.Transcript != nil && *it.Transcript {
			parts = append(parts, ansi.Paint(color, "yellow", "a transcript in its home volume"))
		}
	case bottle.KindContainer, bottle.KindMachine:
		state := ansi.Printable(it.State)
		if bottle.Active(state) {
			state = ansi.Paint(color, "yellow", state)
		}
		parts = append(parts, state)
	case bottle.KindStateDir:
		if it.SizeBytes != nil {
			parts = append(parts, Size(*it.SizeBytes))
		}
		var flags []string
		if it.Transcript != nil && *it.Transcript {
			flags = append(flags, "transcript")
		}
		if it.Dockerfile != nil && *it.Dockerfile {
			flags = append(flags, "Dockerfile")
		}
		if it.Resumable != nil && *it.Resumable {
			flags = append(flags, ansi.Paint(color, "yellow", "resumable"))
		}
		if len(flags) == 0 {
			flags = append(flags, "no transcript")
		}
		parts = append(parts, strings.Join(flags, ", "))
		if it.Bottle != "" {
			parts = append(parts, "goes with "+ansi.Printable(it.Bottle))
		}
		if it.Modified != nil {
			parts = append(parts, "modified "+Age(now, *it.Modified)+" ago")
		}
		return ansi.Printable(it.Name) + "  " + strings.Join(parts, "; ")
	}
	if it.Created != nil {
		parts = append(parts, "created "+Age(now, *it.Created)+" ago")
	}
	return ansi.Printable(it.Name) + "  " + strings.Join(parts, "; ")
}

// Total is the one-line count of a plan: "total: 1 compose project, 2 state dirs".
func Total(items []bottle.Item) string {
	n := map[string]int{}
	for _, it := range items {
		n[it.Kind]++
	}
	var parts []string
	for _, k := range bottle.Kinds {
		if n[k] > 0 {
			parts = append(parts, count(n[k], strings.TrimSuffix(kindTitle[k], "s")))
		}
	}
	if len(parts) == 0 {
		return "total: nothing"
	}
	return "total: " + strings.Join(parts, ", ")
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Age says how long ago t was in one short token: 45s, 12m, 3h (below two
// days), 5d. (Not docker ps's wording, which is "3 hours ago": a plan line
// or an ls column keeps to one word; TestAgeAndSize pins the format.)
func Age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// Size prints a byte count for a person: 512 B, 12.3 KiB, 4.0 MiB.
func Size(n int64) string { return transcript.Size(n) }
