// Command generate writes the man pages and completion scripts (package
// manual) under the directory it is given: `make man` runs it on the
// repository.
package main

import (
	"fmt"
	"os"

	"github.com/claude-bottle/bottle/internal/manual"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: generate REPO-ROOT")
		os.Exit(2)
	}
	changed, err := manual.Write(os.Args[1])
	for _, p := range changed {
		fmt.Fprintln(os.Stderr, "wrote", p)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}
