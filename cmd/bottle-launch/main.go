// Command bottle-launch: see docs/bottle-launch.md.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/launchtool"
)

func main() { os.Exit(launchtool.Main()) }
