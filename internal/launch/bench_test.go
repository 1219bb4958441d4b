package launch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginetest"
)

// BenchmarkLaunchVsPeers times launch-to-agent-running and teardown of a
// bottle through the Engine API (Start; the teardown End does after the
// transcript) against two peers doing the same, alternated round by round:
//
//   - the docker CLI doing the same steps one command at a time: network
//     create ×2, volume create, create + network connect + cp + start for
//     the sidecar, create + cp + start for the agent; then rm -f, network
//     rm, volume rm;
//   - docker compose (v5, the release the labels claim) bringing the same
//     bottle up with `up -d --wait` and down with `down --volumes`, from the
//     compose.json bottle-launch wrote in that round, made usable
//     (composePeer); and once more with `up -d` alone, which returns as
//     soon as the agent started (after the sidecar is healthy).
//
// It reports medians of BENCH_ROUNDS rounds (7) and the ratios.
//
// It runs only from scripts/bench-launch.sh (BOTTLE_BENCH_ENGINE=1), which
// `make bench` runs holding the engine-test lock (it does not take the
// lock), with the compose plugin in a DOCKER_CONFIG of its own.
func BenchmarkLaunchVsPeers(b *testing.B) {
	if os.Getenv("BOTTLE_BENCH_ENGINE") != "1" {
		b.Skip("real-engine benchmark: run scripts/bench-launch.sh (make bench), which holds the engine-test lock")
	}
	rounds := 7
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	token := enginetest.Token()
	prefix := enginetest.Prefix(token)
	b.Cleanup(func() {
		if err := enginetest.Purge(token); err != nil {
			b.Error(err)
		}
	})
	eng, err := engine.Dial(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	spec := Spec{Agent: "bench", Image: "bottle-test/agent", Command: []string{"sleep"}, Sidecar: Sidecar{Image: "bottle-test/pipelock", Allow: []string{"example.test"}}}
	spec.Defaults()
	opt := Options{Prefix: prefix, StateRoot: filepath.Join(b.TempDir(), "state"), Version: "bench", Now: time.Now}

	composeVersion, err := exec.Command("docker", "compose", "version", "--short").Output()
	if err != nil || strings.TrimPrefix(strings.TrimSpace(string(composeVersion)), "v") != ComposeVersion {
		b.Fatalf("docker compose %s is needed (it says %q, %v): scripts/bench-launch.sh builds it (scripts/compose.sh)", ComposeVersion, composeVersion, err)
	}

	var apiUp, apiDown, cliUp, cliDown, cmpUp, cmpUpNoWait, cmpDown, cmpStart []time.Duration
	for i := range rounds {
		t0 := time.Now()
		bt, err := Start(ctx, eng, spec, opt)
		if err != nil {
			b.Fatal(err)
		}
		apiUp = append(apiUp, time.Since(t0))
		doc, err := os.ReadFile(bt.Project.ComposeFile())
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := bt.teardown(ctx); err != nil {
			b.Fatal(err)
		}
		apiDown = append(apiDown, time.Since(t1))
		bt.lock.Release()

		up, down, err := cliRound(b.TempDir(), prefix+"cli"+strconv.Itoa(i), spec)
		if err != nil {
			b.Fatal(err)
		}
		cliUp, cliDown = append(cliUp, up), append(cliDown, down)

		up, down, err = composeRound(b.TempDir(), prefix+"cmp"+strconv.Itoa(i), doc, spec, true)
		if err != nil {
			b.Fatal(err)
		}
		cmpUp, cmpDown = append(cmpUp, up), append(cmpDown, down)
		up, _, err = composeRound(b.TempDir(), prefix+"cmq"+strconv.Itoa(i), doc, spec, false)
		if err != nil {
			b.Fatal(err)
		}
		cmpUpNoWait = append(cmpUpNoWait, up)
		start, err := composeStart()
		if err != nil {
			b.Fatal(err)
		}
		cmpStart = append(cmpStart, start)
	}
	mu, md, cu, cd := median(apiUp), median(apiDown), median(cliUp), median(cliDown)
	pu, pd := median(cmpUp), median(cmpDown)
	fmt.Printf("bench-launch: %d rounds, medians; bottle-launch in-process (its process start is not counted), the peers as commands\n", rounds)
	fmt.Printf("  launch to agent running: bottle-launch %6.0f ms   docker CLI %6.0f ms   ratio %.2f (target <= 1)\n", ms(mu), ms(cu), ms(mu)/ms(cu))
	fmt.Printf("  teardown:                bottle-launch %6.0f ms   docker CLI %6.0f ms   ratio %.2f (target <= %.2f)\n", ms(md), ms(cd), ms(md)/ms(cd), 1/1.5)
	fmt.Printf("  launch to agent running: bottle-launch %6.0f ms   compose up -d --wait %6.0f ms   ratio bottle/compose %.2f (target <= 1)\n", ms(mu), ms(pu), ms(mu)/ms(pu))
	pn := median(cmpUpNoWait)
	fmt.Printf("  launch to agent running: bottle-launch %6.0f ms   compose up -d        %6.0f ms   ratio bottle/compose %.2f (without --wait's last poll)\n", ms(mu), ms(pn), ms(mu)/ms(pn))
	fmt.Printf("  teardown:                bottle-launch %6.0f ms   compose down --volumes %6.0f ms   ratio bottle/compose %.2f (target <= 1)\n", ms(md), ms(pd), ms(md)/ms(pd))
	fmt.Printf("  (docker compose %s; starting it, `docker compose version`, takes %.0f ms)\n", ComposeVersion, ms(median(cmpStart)))
	b.ReportMetric(ms(mu), "launch-ms")
	b.ReportMetric(ms(cu), "cli-launch-ms")
	b.ReportMetric(ms(pu), "compose-launch-ms")
	b.ReportMetric(ms(pn), "compose-nowait-launch-ms")
	b.ReportMetric(ms(md), "teardown-ms")
	b.ReportMetric(ms(cd), "cli-teardown-ms")
	b.ReportMetric(ms(pd), "compose-teardown-ms")
}

// cliRound makes and removes the same bottle with the docker CLI.
func cliRound(dir, project string, spec Spec) (up, down time.Duration, err error) {
	ca, err := NewCA(project, time.Now())
	if err != nil {
		return 0, 0, err
	}
	agentTar, err := AgentFiles(spec, ca, time.Now())
	if err != nil {
		return 0, 0, err
	}
	sidecarTar, err := SidecarFiles(spec, ca, time.Now())
	if err != nil {
		return 0, 0, err
	}
	label := "com.docker.compose.project=" + project
	internal, egress, vol := project+"_internal", project+"_egress", project+"_home"
	sidecar, agent := project+"-sidecar-1", project+"-agent-1"
	docker := func(stdin []byte, args ...string) error {
		cmd := exec.Command("docker", args...)
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("docker %v: %v: %s", args, err, out)
		}
		return nil
	}
	steps := func(ss ...func() error) error {
		for _, s := range ss {
			if err := s(); err != nil {
				return err
			}
		}
		return nil
	}
	t0 := time.Now()
	err = steps(
		func() error { return docker(nil, "network", "create", "--internal", "--label", label, internal) },
		func() error { return docker(nil, "network", "create", "--label", label, egress) },
		func() error { return docker(nil, "volume", "create", "--label", label, vol) },
		func() error {
			return docker(nil, "create", "--name", sidecar, "--label", label, "--network", internal, "--network-alias", "sidecar", spec.Sidecar.Image, "run", "--config", bottle.SidecarConfig)
		},
		func() error { return docker(nil, "network", "connect", egress, sidecar) },
		func() error { return docker(sidecarTar, "cp", "-", sidecar+":/") },
		func() error {
			args := []string{"create", "--name", agent, "--label", label, "--network", internal, "-v", vol + ":" + bottle.AgentHome}
			for _, e := range Env(AgentEnv(spec)) {
				args = append(args, "-e", e)
			}
			return docker(nil, append(append(args, spec.Image), spec.Command...)...)
		},
		func() error { return docker(agentTar, "cp", "-", agent+":/") },
		func() error { return docker(nil, "start", sidecar) },
		func() error { return docker(nil, "start", agent) },
	)
	up = time.Since(t0)
	if err != nil {
		return 0, 0, err
	}
	t1 := time.Now()
	err = steps(
		func() error { return docker(nil, "rm", "-f", agent, sidecar) },
		func() error { return docker(nil, "network", "rm", internal, egress) },
		func() error { return docker(nil, "volume", "rm", vol) },
	)
	return up, time.Since(t1), err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
