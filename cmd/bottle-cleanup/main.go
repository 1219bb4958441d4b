// Command bottle-cleanup: see the README.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/cleanuptool"
)

func main() { os.Exit(cleanuptool.Main()) }
