// Command bottle-cleanup: see docs/bottle-cleanup.md.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/cleanuptool"
)

func main() { os.Exit(cleanuptool.Main()) }
