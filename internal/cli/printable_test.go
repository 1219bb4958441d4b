package cli

import (
	"strings"
	"testing"
)

func TestErrorfEscapes(t *testing.T) {
	var b strings.Builder
	tool := &Tool{Name: "bottle-x", Env: Env{Stderr: &b}}
	tool.Errorf("warning: network %s left alone", "claude-bottle-n\r\x1b[2Kok")
	if got, want := b.String(), "bottle-x: warning: network claude-bottle-n\\r\\x1b[2Kok left alone\n"; got != want {
		t.Errorf("Errorf wrote %q, want %q", got, want)
	}
}
