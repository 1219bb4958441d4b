//go:build !linux

package main

import "fmt"

// The probes need Linux (a bottle's container always is).
func probeNet() bool {
	fmt.Println("FAIL probe-net: Linux only")
	return false
}

func probeSetuid(string) bool {
	fmt.Println("FAIL probe-setuid: Linux only")
	return false
}
