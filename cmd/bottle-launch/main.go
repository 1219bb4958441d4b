// Command bottle-launch: see the README.
package main

import (
	"os"

	"github.com/claude-bottle/bottle/internal/tool/launchtool"
)

func main() { os.Exit(launchtool.Main()) }
