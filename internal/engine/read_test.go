package engine

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// podmanCNI is what podman 4.3.1 with the CNI backend answers for an
// internal network (its gateway "<nil>"), next to a network and containers
// with fields of the wrong type: an engine's answer the toolkit cannot read
// whole.
var podmanCNI = map[string]string{
	"/v1.41/networks": `[
 {"Name":"cb-x-aaaa1_internal","Id":"n1","Created":"2026-12-06T05:14:12.570099005Z","Driver":"bridge","EnableIPv6":false,
  "IPAM":{"Driver":"default","Options":{"driver":"host-local"},"Config":[{"Subnet":"10.89.0.0/24","Gateway":"<nil>"}]},
  "Internal":true,"Containers":{},"Options":{},"Labels":{"com.docker.compose.project":"cb-x-aaaa1"}},
 {"Name":"cb-odd","Id":"n2","Created":"2026-12-06T05:14:12Z","Labels":"not a map"}]`,
	"/v1.41/containers/json": `[
 {"Id":"c1","Names":["/cb-x-aaaa1-agent-1"],"Labels":{"com.docker.compose.project":"cb-x-aaaa1"},"State":"running","Created":1765000000,
  "Mounts":[{"Type":"volume","Name":"cb-x-aaaa1_home","Destination":"/home"}],
  "NetworkSettings":{"Networks":{"cb-x-aaaa1_internal":{"NetworkID":"n1","Gateway":"<nil>","IPAddress":"10.89.0.2"}}}},
 {"Id":"c2","Names":["/cb-odd-1"],"Labels":["x"],"State":"exited","Created":1765000000,"NetworkSettings":{"Networks":7}}]`,
	"/v1.41/networks/n1": `{"Name":"cb-x-aaaa1_internal","Id":"n1","Created":"2026-12-06T05:14:12.570099005Z",
  "IPAM":{"Config":[{"Subnet":"10.89.0.0/24","Gateway":"<nil>"}]},"Internal":true,"Containers":{"c1":{}},"Options":{},"Labels":{}}`,
	"/v1.41/containers/c1/json": `{"Id":"c1","Name":"/cb-x-aaaa1-agent-1","Created":"2026-12-06T05:14:12Z","State":{"Status":"running","ExitCode":0},
  "Config":{"Labels":{"a":"b"}},"NetworkSettings":{"Gateway":"<nil>","Networks":{"cb-x-aaaa1_internal":{"NetworkID":"n1","Gateway":"<nil>"}}}}`,
}

func fakeEngine(t *testing.T, answers map[string]string) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		if r.URL.Path == "/_ping" {
			_, _ = w.Write([]byte("OK"))
			return
		}
		body, ok := answers[r.URL.Path]
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No such container: ` + r.URL.Path + `"}`))
			return
		}
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	c, err := Open(Endpoint{Host: "unix://" + sock, Source: "DOCKER_HOST"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A field the toolkit cannot read (or does not read) never fails the
// listing: the resource is listed, the field named in Unread. Fails on the
// moby client's decoding, which answers ParseAddr("<nil>") for the lot.
func TestListReadsWhatItCan(t *testing.T) {
	c := fakeEngine(t, podmanCNI)
	ctx := context.Background()
	ns, err := c.Networks(ctx)
	if err != nil {
		t.Fatalf("Networks: %v", err)
	}
	if len(ns) != 2 || ns[0].ID != "n1" || ns[0].Labels["com.docker.compose.project"] != "cb-x-aaaa1" || len(ns[0].Unread) != 0 {
		t.Fatalf("networks %+v", ns)
	}
	if ns[0].Created.IsZero() || !ns[0].Internal || len(ns[0].Subnets) != 1 || ns[0].Subnets[0].Gateway != "<nil>" {
		t.Errorf("network n1 %+v", ns[0])
	}
	if ns[1].ID != "n2" || ns[1].Name != "cb-odd" || !HasUnread(ns[1].Unread, "Labels") || ns[1].Labels != nil {
		t.Errorf("network n2 %+v: want Labels unread", ns[1])
	}
	cs, err := c.Containers(ctx)
	if err != nil {
		t.Fatalf("Containers: %v", err)
	}
	if len(cs) != 2 || cs[0].Name != "cb-x-aaaa1-agent-1" || cs[0].Networks["cb-x-aaaa1_internal"] != "n1" || len(cs[0].Mounts) != 1 || len(cs[0].Unread) != 0 {
		t.Fatalf("containers %+v", cs)
	}
	if !HasUnread(cs[1].Unread, "Labels") || !HasUnread(cs[1].Unread, "NetworkSettings.Networks") || cs[1].Name != "cb-odd-1" || cs[1].State != "exited" {
		t.Errorf("container c2 %+v: want Labels and NetworkSettings.Networks unread, the rest read", cs[1])
	}
	if txt := UnreadText(cs[1].Unread); !strings.Contains(txt, "Labels (a JSON array where map was expected)") {
		t.Errorf("UnreadText %q", txt)
	}
	n, err := c.InspectNetwork(ctx, "n1")
	if err != nil || len(n.Containers) != 1 || n.Containers[0] != "c1" {
		t.Fatalf("InspectNetwork: %+v, %v", n, err)
	}
	ic, err := c.InspectContainer(ctx, "c1")
	if err != nil || ic.Labels["a"] != "b" || ic.State != "running" || ic.Networks["cb-x-aaaa1_internal"] != "n1" {
		t.Fatalf("InspectContainer: %+v, %v", ic, err)
	}
	st, err := c.ContainerStatus(ctx, "c1")
	if err != nil || st.State != "running" {
		t.Fatalf("ContainerStatus: %+v, %v", st, err)
	}
	if _, err := c.InspectContainer(ctx, "gone"); !IsNotFound(err) || !IsNoSuchContainer(err) {
		t.Errorf("a missing container: %v, want the engine's 404", err)
	}
}
