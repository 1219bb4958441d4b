package ansi

import (
	"testing"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"claude-bottle-a-1":           "claude-bottle-a-1",
		"naïve ünïcode 名前":            "naïve ünïcode 名前",
		"x\x1b[2K\ry":                 `x\x1b[2K\ry`,
		"a\nb\tc":                     `a\nb\tc`,
		"rtl\u202eevil":               `rtl\u202eevil`,
		"zero\u200bwidth":             `zero\u200bwidth`,
		"bad\xffutf8":                 `bad\xffutf8`,
		"del\x7f":                     `del\x7f`,
		"c1\u009b31m":                 `c1\u009b31m`,
		`back\slash stays as written`: `back\slash stays as written`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// Warnings and errors on stderr echo names: they are escaped too.
