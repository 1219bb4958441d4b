package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeArchive serves an engine's ping and archive calls on a unix socket:
// archive answers with handle.
func fakeArchive(t *testing.T, handle http.HandlerFunc) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Api-Version", "1.41")
			return
		}
		// the path's stat, as the engine sends it with an archive
		w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString([]byte(`{"name":"x","size":0,"mode":2147484141}`)))
		r = r.WithContext(contextUntil(r.Context(), stop))
		handle(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { close(stop); srv.Close() })
	env := map[string]string{"DOCKER_HOST": "unix://" + sock, EnvTimeout: "300ms", "HOME": t.TempDir()}
	c, err := Dial(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// contextUntil is ctx, also done when stop closes (the test's end).
func contextUntil(ctx context.Context, stop <-chan struct{}) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx
}

func checkNoAnswer(t *testing.T, what string, err error, start time.Time) {
	t.Helper()
	var na *NoAnswerError
	if !IsUnreachable(err) || !errors.As(err, &na) || na.Call != "GET /containers/c1/archive" {
		t.Fatalf("%s: err = %v, want a NoAnswerError for GET /containers/c1/archive", what, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("%s: took %s with a 300ms timeout", what, d)
	}
	if !strings.Contains(err.Error(), "did not answer GET /containers/c1/archive within 300ms") {
		t.Errorf("%s: message %q", what, err)
	}
}

// A copy whose answer never starts fails after the timeout (first byte).
func TestCopyFromFirstByteTimeout(t *testing.T) {
	c := fakeArchive(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	start := time.Now()
	_, err := c.CopyFrom(context.Background(), "c1", "/x")
	checkNoAnswer(t, "no first byte", err, start)
}

// A copy whose answer stops midway fails after the timeout (idle), with
// what came before it read.
func TestCopyFromIdleTimeout(t *testing.T) {
	c := fakeArchive(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first part"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	rc, err := c.CopyFrom(context.Background(), "c1", "/x")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	start := time.Now()
	b, err := io.ReadAll(rc)
	if string(b) != "first part" {
		t.Errorf("read %q before the stall", b)
	}
	checkNoAnswer(t, "stalled midway", err, start)
}

// Only the wait for the engine counts: a consumer slower than the timeout
// between reads still gets the whole answer.
func TestCopyFromSlowConsumer(t *testing.T) {
	c := fakeArchive(t, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 3; i++ {
			w.Write([]byte(strings.Repeat("x", 10)))
			w.(http.Flusher).Flush()
		}
	})
	rc, err := c.CopyFrom(context.Background(), "c1", "/x")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	time.Sleep(700 * time.Millisecond)
	var got []byte
	buf := make([]byte, 10)
	for {
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		time.Sleep(400 * time.Millisecond)
	}
	if len(got) != 30 {
		t.Errorf("read %d bytes, want 30", len(got))
	}
}

// A copy into a container whose engine stops taking it fails after the
// timeout.
func TestCopyToStalls(t *testing.T) {
	c := fakeArchive(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	start := time.Now()
	err := c.CopyTo(context.Background(), "c1", "/", strings.NewReader("tar"))
	var na *NoAnswerError
	if !errors.As(err, &na) || na.Call != "PUT /containers/c1/archive" {
		t.Fatalf("err = %v, want a NoAnswerError for PUT /containers/c1/archive", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s with a 300ms timeout", d)
	}
}
