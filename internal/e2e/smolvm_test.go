package e2e

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/claude-bottle/bottle/internal/launch"
	"github.com/claude-bottle/bottle/internal/smolvmfake"
)

// machines-confined N
//
// Fails unless the fake smolvm created exactly N machines (0 or more) in
// this script and every one of them was given a network that reaches
// nothing but smolvm's gateway (virtio-net, the static allow-list
// 100.96.0.1/32 only, the DNS filter on, no published port): the only way
// out of a smolmachines bottle is its proxy, which the gateway relays to.
func cmdMachinesConfined(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: machines-confined N")
	}
	cs, err := smolvmfake.Networks(ts.Getenv(smolvmfake.EnvState))
	ts.Check(err)
	if want := args[0]; fmt.Sprint(len(cs)) != want {
		ts.Fatalf("the fake smolvm created %d machines, want %s", len(cs), want)
	}
	for _, c := range cs {
		n := c.Network
		if n.Backend != "virtio-net" || !slices.Equal(n.AllowCIDRs, []string{launch.SmolGateway + "/32"}) || !n.DNSFilter ||
			n.OutboundLocalhostOnly || len(n.Ports) > 0 {
			ts.Fatalf("machine %s has a way out besides the gateway: %+v", c.Name, n)
		}
		ts.Logf("machine %s: %s, allows %v only, DNS filtered", c.Name, n.Backend, n.AllowCIDRs)
	}
}

// removeFakeImages removes the image tags the fake smolvm's machines of a
// script left (a script that failed before deleting them): their names
// hold the script's token.
func removeFakeImages(token string) {
	out, err := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "smolvmfake/*").Output()
	if err != nil {
		return
	}
	for _, ref := range strings.Fields(string(out)) {
		if strings.Contains(ref, token) {
			_ = exec.Command("docker", "rmi", ref).Run()
		}
	}
}
