package ansi

import "testing"

func TestPaint(t *testing.T) {
	for _, c := range []struct {
		on          bool
		color, s, w string
	}{
		{true, "yellow", "x", "\x1b[33mx\x1b[0m"},
		{true, "bold", "x", "\x1b[1mx\x1b[0m"},
		{false, "yellow", "x", "x"},
		{true, "mauve", "x", "x"},
		{true, "red", "", ""},
	} {
		if got := Paint(c.on, c.color, c.s); got != c.w {
			t.Errorf("Paint(%v, %q, %q) = %q, want %q", c.on, c.color, c.s, got, c.w)
		}
	}
}
