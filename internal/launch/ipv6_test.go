package launch

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
)

// runcNoIPv6 is what Docker 20.10.24 with runc 1.1.5 answers when a
// container that sets net.ipv6.conf.all.disable_ipv6 is started where
// /proc/sys/net/ipv6 does not exist (seen on this project's test machine
// with an empty tmpfs mounted there, which is what a kernel booted with
// ipv6.disable=1 shows every container: engine-proxy -no-ipv6).
const runcNoIPv6 = "Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: open /proc/sys/net/ipv6/conf/all/disable_ipv6: no such file or directory: unknown"

// kernelWithoutIPv6 makes f's engine a kernel with no IPv6: a container
// created with a net.ipv6 sysctl fails to start, as runc fails it; it
// returns the sysctls of every container created, in order, by name.
func kernelWithoutIPv6(f *enginefake.Engine) func() []string {
	var mu sync.Mutex
	sysctls := map[string]map[string]string{}
	var made []string
	create, start := f.OnCreateContainer, f.OnStartContainer
	f.OnCreateContainer = func(spec engine.ContainerSpec) (string, error) {
		id, err := create(spec)
		if err == nil {
			mu.Lock()
			sysctls[id] = spec.Sysctls
			keys := []string{}
			for k := range spec.Sysctls {
				keys = append(keys, k)
			}
			made = append(made, spec.Name+" "+strings.Join(keys, ","))
			mu.Unlock()
		}
		return id, err
	}
	f.OnStartContainer = func(id string) error {
		mu.Lock()
		s := sysctls[id]
		mu.Unlock()
		for k := range s {
			if strings.HasPrefix(k, "net.ipv6.") {
				return errors.New(runcNoIPv6)
			}
		}
		return start(id)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), made...)
	}
}

// On a kernel without IPv6 the agent, whose sysctls turn IPv6 off, cannot
// start: the runtime finds no such sysctl. Before, the launch failed with
// that obscure error; now it makes the agent again without them (there is
// no IPv6 to turn off) and says so, compose.json too.
func TestStartWithoutIPv6(t *testing.T) {
	f, w, s, opt := setup(t)
	made := kernelWithoutIPv6(f)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	if !b.NoIPv6() {
		t.Error("NoIPv6 is false")
	}
	agent := b.Project.ContainerName(bottle.ServiceAgent)
	var agents []string
	for _, m := range made() {
		if strings.HasPrefix(m, agent+" ") {
			agents = append(agents, m)
		}
	}
	if len(agents) != 2 || !strings.Contains(agents[0], "net.ipv6.conf.all.disable_ipv6") || agents[1] != agent+" " {
		t.Errorf("agents made: %q", agents)
	}
	if held := w.Held(); len(held) != 5 {
		t.Errorf("holds %d resources, want 2 networks, a volume and 2 containers: %v", len(held), held)
	}
	c, ok := w.Container(b.AgentID())
	if !ok || c.State != "running" {
		t.Fatalf("the agent %s: %+v", b.AgentID(), c)
	}
	info := b.Info()
	if len(info.Containers) != 2 || info.Containers[0].ID != b.AgentID() {
		t.Errorf("Info = %+v", info)
	}
	cf, err := os.ReadFile(b.Project.ComposeFile())
	if err != nil || strings.Contains(string(cf), "disable_ipv6") {
		t.Errorf("compose.json still sets the sysctls (%v):\n%s", err, cf)
	}
	agentSvc, _, _ := b.services()
	if c.Labels[compose.LabelConfigHash] != ConfigHash(agentSvc) {
		t.Errorf("config-hash %s, want the service's without sysctls %s", c.Labels[compose.LabelConfigHash], ConfigHash(agentSvc))
	}
}

// Where the kernel has IPv6 the sysctls stay; any other start error fails
// the launch as before, and so does a second start that fails the same way.
func TestStartIPv6Kept(t *testing.T) {
	f, _, s, opt := setup(t)
	var sysctls map[string]string
	create := f.OnCreateContainer
	f.OnCreateContainer = func(spec engine.ContainerSpec) (string, error) {
		if strings.HasSuffix(spec.Name, "-"+bottle.ServiceAgent+"-1") {
			sysctls = spec.Sysctls
		}
		return create(spec)
	}
	b, err := Start(context.Background(), f, s, opt)
	if err != nil || b.NoIPv6() || sysctls["net.ipv6.conf.all.disable_ipv6"] != "1" || sysctls["net.ipv6.conf.default.disable_ipv6"] != "1" {
		t.Fatalf("Start = %v, sysctls %v", err, sysctls)
	}
	cf, _ := os.ReadFile(b.Project.ComposeFile())
	if !strings.Contains(string(cf), `"net.ipv6.conf.all.disable_ipv6": "1"`) {
		t.Errorf("compose.json:\n%s", cf)
	}

	for name, answer := range map[string]string{
		"another error":     "Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: open /proc/sys/net/ipv4/ip_forward: read-only file system: unknown",
		"the same, twice":   runcNoIPv6,
		"no such file else": "Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/agent\": stat /agent: no such file or directory: unknown",
	} {
		t.Run(name, func(t *testing.T) {
			f, w, s, opt := setup(t)
			start := f.OnStartContainer
			f.OnStartContainer = func(id string) error {
				if c, _ := w.Container(id); strings.HasSuffix(c.Name, "-"+bottle.ServiceAgent+"-1") {
					return errors.New(answer)
				}
				return start(id)
			}
			_, err := Start(context.Background(), f, s, opt)
			if err == nil || !strings.Contains(err.Error(), answer) || !strings.Contains(err.Error(), "starting the agent") {
				t.Fatalf("Start = %v", err)
			}
			if held := w.Held(); len(held) != 0 {
				t.Errorf("left behind: %v", held)
			}
		})
	}
}
