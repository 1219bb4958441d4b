package engine

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Images is what the smolmachines launcher needs of the engine beyond a
// Launcher: an image as `docker save` writes it (smolvm never reads the
// engine's image store), and the host port a container port was published
// on.
type Images interface {
	// SaveImage returns the image as a `docker save` archive (one image,
	// its manifest.json, config and layers). The stream is bounded by ctx
	// only: a large image takes as long as it takes.
	SaveImage(ctx context.Context, ref string) (io.ReadCloser, error)
	// PublishedPort is the host port a started container's TCP port was
	// published on at 127.0.0.1.
	PublishedPort(ctx context.Context, id string, port int) (int, error)
}

var _ Images = (*Client)(nil)

// SaveImage streams `docker save REF`.
func (e *Client) SaveImage(ctx context.Context, ref string) (io.ReadCloser, error) {
	sc, err := e.streams(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := sc.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, e.wrap(err)
	}
	return rc, nil
}

// PublishedPort reads the host port of a published TCP port from inspect.
func (e *Client) PublishedPort(ctx context.Context, id string, port int) (int, error) {
	ctx, cancel := e.bound(ctx, "GET /containers/"+id+"/json")
	defer cancel()
	res, err := e.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return 0, e.answer(ctx, err)
	}
	p, err := network.ParsePort(strconv.Itoa(port) + "/tcp")
	if err != nil {
		return 0, err
	}
	if ns := res.Container.NetworkSettings; ns != nil {
		for _, b := range ns.Ports[p] {
			if b.HostIP.String() == "127.0.0.1" {
				if n, err := strconv.Atoi(b.HostPort); err == nil && n > 0 {
					return n, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("container %s has no port %d published on 127.0.0.1 (is it running?)", id, port)
}

// publishLocal exposes each port and binds it to 127.0.0.1 at a port the
// engine picks (HostPort "").
func publishLocal(cfg *container.Config, hc *container.HostConfig, ports []int) error {
	if len(ports) == 0 {
		return nil
	}
	cfg.ExposedPorts = network.PortSet{}
	hc.PortBindings = network.PortMap{}
	for _, n := range ports {
		p, err := network.ParsePort(strconv.Itoa(n) + "/tcp")
		if err != nil {
			return err
		}
		cfg.ExposedPorts[p] = struct{}{}
		hc.PortBindings[p] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: ""}}
	}
	return nil
}
