package engine

import (
	"context"
	"sync"
)

// World is one listing of the engine: three requests, however much it
// holds.
type World struct {
	Containers []Container
	Networks   []Network
	Volumes    []Volume
}

// ListAll lists containers, networks and volumes concurrently; any error
// makes the whole listing fail.
func ListAll(ctx context.Context, api Lister) (World, error) {
	var w World
	var errs [3]error
	var wg sync.WaitGroup
	wg.Go(func() { w.Containers, errs[0] = api.Containers(ctx) })
	wg.Go(func() { w.Networks, errs[1] = api.Networks(ctx) })
	wg.Go(func() { w.Volumes, errs[2] = api.Volumes(ctx) })
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return World{}, err
		}
	}
	return w, nil
}
