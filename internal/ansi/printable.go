package ansi

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with every character a terminal would not simply
// print escaped the way Go writes it in a string literal: control
// characters (\x1b, \n, \r, \t, …), format and other invisible characters
// (\u202e, \u200b), and bytes that are not UTF-8 (\xff). Names come from the
// engine, and Docker takes control characters in network names and any
// string as a compose project label: printed raw, a name could move the
// cursor and rewrite what a person reads (a line of the plan shown at the
// [y/N] prompt). Everything a tool prints for a person goes through it.
func Printable(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			return false
		}
		i += size
	}
	return true
}
