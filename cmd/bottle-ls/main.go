// Command bottle-ls: see docs/bottle-ls.md.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/lstool"
)

func main() { os.Exit(lstool.Main()) }
