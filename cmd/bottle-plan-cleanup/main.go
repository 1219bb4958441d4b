// Command bottle-plan-cleanup: see docs/bottle-plan-cleanup.md.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/plantool"
)

func main() { os.Exit(plantool.Main()) }
