package bottle

import (
	"slices"
	"testing"
)

// The slugs a name may be of, whatever the prefix (a prefix need not end
// with "-"): every ending with a slug's shape, and nothing else.
func TestSlugsEnding(t *testing.T) {
	for name, want := range map[string][]string{
		"claude-bottle-researcher-m3hxd": {"researcher-m3hxd", "bottle-researcher-m3hxd", "claude-bottle-researcher-m3hxd"},
		"A-orig-aaaa1":                   {"orig-aaaa1"},
		"bt1a-my_agent-aaaa1":            {"agent-aaaa1", "my_agent-aaaa1", "bt1a-my_agent-aaaa1"},
		"x.y-a-aaaa1":                    {"a-aaaa1", "y-a-aaaa1"},
		"x.-aaaa1":                       nil, // no agent's name before it
		"p-a-aaaa1-agent-1":              nil, // a compose container: its project label says
		"p-a-aaaa1_home":                 nil,
		"p-a-AAAA1":                      nil,
		"-aaaa1":                         nil,
		"aaaaa":                          nil,
	} {
		got := SlugsEnding(name)
		if (want == nil) != (got == nil) || slices.ContainsFunc(want, func(s string) bool { return !slices.Contains(got, s) }) {
			t.Errorf("SlugsEnding(%q) = %q, want it to hold %q", name, got, want)
		}
		for _, s := range got {
			if !SlugShape(s) {
				t.Errorf("%q: %q has no slug's shape", name, s)
			}
		}
	}
}

func TestSlugsEndingExact(t *testing.T) {
	if got := SlugsEnding("A.orig-aaaa1"); !slices.Equal(got, []string{"g-aaaa1", "ig-aaaa1", "rig-aaaa1", "orig-aaaa1"}) {
		t.Errorf("%q", got)
	}
}
