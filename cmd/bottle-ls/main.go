// Command bottle-ls: see the README.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/lstool"
)

func main() { os.Exit(lstool.Main()) }
