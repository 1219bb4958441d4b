//go:build linux && !amd64

package main

// legacyPlants: this architecture has only the *at system calls.
func legacyPlants(p, q string, mode uint32) []plant { return nil }
