package smolvmfake

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// validName copies smolvm's validate_vm_name (src/data/mod.rs): at most 128
// characters, a letter or digit first, then letters, digits, '-' and '_',
// no trailing hyphen, no two hyphens in a row. Its messages are smolvm's.
func validName(name string) error {
	const label = "machine name"
	switch {
	case name == "":
		return fmt.Errorf("%s cannot be empty", label)
	case len(name) > 128:
		return fmt.Errorf("%s too long: %d characters (max 128)", label, len(name))
	case !alnum(name[0]):
		return fmt.Errorf("%s must start with a letter or digit (got: %q)", label, name)
	case strings.HasSuffix(name, "-"):
		return fmt.Errorf("%s cannot end with a hyphen (got: %q)", label, name)
	}
	prev := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' {
			if prev {
				return fmt.Errorf("%s cannot contain consecutive hyphens", label)
			}
			prev = true
		} else {
			prev = false
		}
		if !alnum(c) && c != '-' && c != '_' {
			if c == '/' || c == '\\' {
				return fmt.Errorf("%s cannot contain path separators", label)
			}
			return fmt.Errorf("%s contains invalid character: '%c'", label, c)
		}
	}
	return nil
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Network is the network a machine was given, as the fake records it so
// tests can check that a machine reaches nothing but what it was allowed.
type Network struct {
	// Backend is what smolvm would run: "" (no network at all), "tsi"
	// (plain --net: outbound through the host, enforcing nothing) or
	// "virtio-net" (chosen by ports, a policy, --network, or asked for).
	Backend string `json:"backend"`
	// AllowCIDRs is the static allow-list (--allow-cidr, and each
	// --allow-host resolved at create: an IP literal is its /32).
	AllowCIDRs []string `json:"allow_cidrs"`
	// AllowHosts are the --allow-host values; any turns on the gateway's
	// DNS filter (only these names resolve; host.smolvm.internal always).
	AllowHosts            []string `json:"allow_hosts"`
	DNSFilter             bool     `json:"dns_filter"`
	OutboundLocalhostOnly bool     `json:"outbound_localhost_only"`
	Ports                 []string `json:"ports"`
}

// Restricted reports whether the machine's egress is confined to its
// allow-list: virtio-net with a policy (TSI enforces none; with no
// network at all there is nothing to confine).
func (n Network) Restricted() bool {
	return n.Backend == "virtio-net" && (len(n.AllowCIDRs) > 0 || n.DNSFilter || n.OutboundLocalhostOnly)
}

// planNetwork copies smolvm v1.9.3's choice and checks of a machine's
// network (src/network/launch.rs plan_launch_network and
// validate_requested_network_backend; src/smolfile.rs
// resolve_host_to_cidrs and parse_cidr).
func planNetwork(p parsed) (Network, error) {
	var n Network
	n.Ports = p.vals["port"]
	n.OutboundLocalhostOnly = p.has("outbound-localhost-only")
	for _, c := range p.vals["allow-cidr"] {
		cidr, err := parseCIDR(c)
		if err != nil {
			return n, usagef("invalid value '%s' for '--allow-cidr <CIDR>': %v", c, err)
		}
		n.AllowCIDRs = append(n.AllowCIDRs, cidr)
	}
	for _, h := range p.vals["allow-host"] {
		cidrs, err := resolveHost(h)
		if err != nil {
			return n, fmt.Errorf("config operation failed: allow-host: %v", err)
		}
		n.AllowHosts = append(n.AllowHosts, h)
		n.AllowCIDRs = append(n.AllowCIDRs, cidrs...)
	}
	if n.OutboundLocalhostOnly {
		n.AllowCIDRs = append(n.AllowCIDRs, "127.0.0.0/8", "::1/128")
	}
	n.DNSFilter = len(n.AllowHosts) > 0
	policy := len(p.vals["allow-cidr"]) > 0 || len(n.AllowHosts) > 0 || n.OutboundLocalhostOnly
	asked := p.str("net-backend")
	switch asked {
	case "", "tsi", "virtio-net":
	default:
		return n, usagef("invalid value '%s' for '--net-backend <NET_BACKEND>'\n  [possible values: tsi, virtio-net]", asked)
	}
	wants := p.has("net") || len(n.Ports) > 0 || policy || p.has("network")
	backend := asked
	if backend == "" {
		backend = "tsi"
		if len(n.Ports) > 0 || policy || p.has("network") {
			backend = "virtio-net"
		}
	}
	switch {
	case len(n.Ports) > 0 && backend != "virtio-net":
		return n, fmt.Errorf("config operation failed: ports: published ports require the virtio-net backend (TSI is outbound-only); remove --net-backend tsi or set it to virtio-net")
	case p.has("network") && backend != "virtio-net":
		return n, fmt.Errorf("config operation failed: network: --network requires the virtio-net backend; remove --net-backend tsi or set it to virtio-net")
	case policy && backend != "virtio-net":
		return n, fmt.Errorf("config operation failed: egress: egress policy (--allow-cidr/--allow-host/--outbound-localhost-only) requires the virtio-net backend; TSI does not enforce it. Remove --net-backend tsi or set it to virtio-net")
	case asked == "virtio-net" && !wants:
		return n, fmt.Errorf("config operation failed: --net-backend: --net-backend virtio-net requires --net")
	}
	if wants {
		n.Backend = backend
	}
	return n, nil
}

// parseCIDR copies parse_cidr: IP/prefix or a bare IP (a full-length
// prefix), normalized.
func parseCIDR(s string) (string, error) {
	if pfx, err := netip.ParsePrefix(s); err == nil {
		return pfx.Masked().String(), nil
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(ip, ip.BitLen()).String(), nil
	}
	return "", fmt.Errorf("invalid CIDR '%s': expected format like 10.0.0.0/8 or 1.1.1.1", s)
}

// resolveHost copies resolve_host_to_cidrs: an IP literal is its own /32
// (/128); host:port is refused; a name is resolved on the host (within 10
// s), every address a full-length prefix.
func resolveHost(h string) ([]string, error) {
	if ip, err := netip.ParseAddr(h); err == nil {
		return []string{netip.PrefixFrom(ip, ip.BitLen()).String()}, nil
	}
	if strings.Contains(h, ":") {
		return nil, fmt.Errorf("invalid hostname '%s': port suffixes are not supported. Use the hostname only (all ports are allowed to resolved IPs).", h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", h)
	if err != nil {
		return nil, fmt.Errorf("failed to resolve '%s': %v", h, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("'%s' resolved to no addresses", h)
	}
	var out []string
	for _, a := range addrs {
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()).String())
	}
	return out, nil
}
