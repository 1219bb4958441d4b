// Command web is a test host: an HTTP server on :80 that answers every
// request with 200 and the Host it was asked for. Tests put it on a
// network of their own, under the names the egress proxy allows or refuses.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	err := http.ListenAndServe(":80", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", r.Host)
	}))
	fmt.Fprintln(os.Stderr, "web:", err)
	os.Exit(1)
}
