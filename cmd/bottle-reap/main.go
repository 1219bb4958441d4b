// Command bottle-reap: see the README.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/reaptool"
)

func main() { os.Exit(reaptool.Main()) }
