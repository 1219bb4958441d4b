// Package ansi is how the tools colour text for a terminal. It sits below
// cli (which decides whether colour is on) and plan (which renders a plan
// for a person), so neither imports the other for it.
package ansi

// Paint wraps s in an ANSI colour when on is true: "green", "yellow", "red",
// "bold", "dim"; any other colour leaves s as it is.
func Paint(on bool, color, s string) string {
	codes := map[string]string{"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2"}
	c, ok := codes[color]
	if !on || !ok || s == "" {
		return s
	}
	return "\x1b[" + c + "m" + s + "\x1b[0m"
}
