package launch

import (
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// A kernel booted with ipv6.disable=1 (or built without IPv6, or whose
// IPv6 module is not loaded) has no /proc/sys/net/ipv6: the sysctls that
// turn IPv6 off in the agent's namespace (AgentSysctls) do not exist
// there, and the runtime cannot start a container that sets them. It says
// so when the agent is started — runc 1.1 (Docker 20.10):
//
//	failed to create shim task: OCI runtime create failed: runc create
//	failed: unable to start container process: error during container
//	init: open /proc/sys/net/ipv6/conf/all/disable_ipv6: no such file or
//	directory: unknown
//
// (crun: "open `/proc/sys/net/ipv6/conf/all/disable_ipv6`: No such file or
// directory"). The engine's kernel is the one that counts, and it may be
// another machine's (ssh://, tcp://, a VM), so it is the engine's answer
// that is read, not this host's /proc. A namespace with no IPv6 at all has
// none to turn off, and nothing to reach the bridge's IPv6 link-local
// address with: the launch makes the agent's container again without the
// sysctls (its capabilities and seccomp profile unchanged), rewrites
// compose.json to say so, and says it on stderr (NoIPv6). Any other start
// error fails the launch, as before.

// NoIPv6 reports whether err, the engine's answer to starting a
// container, says a net.ipv6 sysctl's file does not exist in it: the
// engine's kernel has no IPv6.
func NoIPv6(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "/proc/sys/net/ipv6/") && strings.Contains(msg, "no such file or directory")
}

// agentSysctls are the agent's sysctls: none where the kernel has no IPv6.
func (b *Launched) agentSysctls() map[string]string {
	if b.noIPv6 {
		return nil
	}
	return AgentSysctls
}

// NoIPv6 reports whether the engine's kernel turned out to have no IPv6,
// so the agent runs without the sysctls that turn it off.
func (b *Launched) NoIPv6() bool { return b.noIPv6 }

// writeCompose writes compose.json for the two services.
func (b *Launched) writeCompose(agent, sidecar Service) error {
	p := b.Project
	doc := p.Compose(agent, sidecar, b.spec.Sidecar.Networks)
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return &StepError{"writing the compose file", err}
	}
	if err := os.WriteFile(p.ComposeFile(), append(data, '\n'), 0o600); err != nil {
		return &StepError{"writing the compose file", err}
	}
	return nil
}

// withoutIPv6 makes the agent's container again without the IPv6 sysctls,
// its start having failed for want of them (NoIPv6): the one made is
// removed (it never ran), compose.json rewritten, and the new one made and
// provisioned as the first was.
func (b *Launched) withoutIPv6(ctx, intr context.Context, agentTar []byte) error {
	b.noIPv6 = true
	if b.attach != nil {
		b.attach.Close()
		b.attach = nil
	}
	id := b.serviceID(bottle.ServiceAgent)
	if err := b.eng.RemoveContainer(ctx, id); err != nil && !engine.IsNotFound(err) {
		return &StepError{"removing the agent's container to make it again without the IPv6 sysctls (the engine's kernel has no IPv6)", err}
	}
	b.forget(bottle.ServiceAgent, id)
	agentSvc, sidecarSvc, agentEnv := b.services()
	if err := b.writeCompose(agentSvc, sidecarSvc); err != nil {
		return err
	}
	return b.makeAgent(ctx, intr, agentSvc, agentEnv, agentTar, func() bool { return intr.Err() != nil })
}
