// Command bottle-plan-cleanup: see the README.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/plantool"
)

func main() { os.Exit(plantool.Main()) }
