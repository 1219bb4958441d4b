package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An engine that takes the connection and never answers fails each call
// after the timeout, with an error naming the endpoint and the call.
func TestSilentEngineTimesOut(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	env := map[string]string{"DOCKER_HOST": "unix://" + sock, EnvTimeout: "200ms", "HOME": t.TempDir()}
	c, err := Dial(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for name, call := range map[string]func() error{
		"HEAD /_ping":          func() error { _, err := c.Containers(context.Background()); return err },
		"GET /volumes/v":       func() error { _, err := c.InspectVolume(context.Background(), "v"); return err },
		"DELETE /containers/x": func() error { return c.RemoveContainer(context.Background(), "x") },
	} {
		start := time.Now()
		err := call()
		var na *NoAnswerError
		if !IsUnreachable(err) || !errors.As(err, &na) || na.Call != name {
			t.Errorf("%s: err = %v, want a NoAnswerError for the call", name, err)
			continue
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %s with a 200ms timeout", name, d)
		}
		if msg := err.Error(); !strings.Contains(msg, "unix://"+sock+" (from DOCKER_HOST) did not answer "+name+" within 200ms") || !strings.Contains(msg, EnvTimeout) {
			t.Errorf("%s: message %q", name, msg)
		}
	}
	env[EnvTimeout] = "soon"
	if _, err := Dial(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), EnvTimeout) {
		t.Errorf("a bad %s: err = %v", EnvTimeout, err)
	}
}
