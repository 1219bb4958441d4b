// Command bottle-reap: see docs/bottle-reap.md.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/reaptool"
)

func main() { os.Exit(reaptool.Main()) }
