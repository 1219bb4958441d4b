package launch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginetest"
)

func TestZZAB(t *testing.T) {
	vs := strings.Fields(os.Getenv("BOTTLE_AB")) // name=ENV1=v1,ENV2=v2 or cli
	if len(vs) == 0 {
		t.Skip()
	}
	rounds, _ := strconv.Atoi(os.Getenv("BOTTLE_AB_ROUNDS"))
	token := enginetest.Token()
	prefix := enginetest.Prefix(token)
	defer enginetest.Purge(token)
	eng, err := engine.Dial(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	spec := Spec{Agent: "bench", Image: "bottle-test/agent", Command: []string{"sleep"}, Sidecar: Sidecar{Image: "bottle-test/pipelock", Allow: []string{"example.test"}}}
	spec.Defaults()
	up := map[string][]time.Duration{}
	down := map[string][]time.Duration{}
	for i := 0; i < rounds; i++ {
		for j := range vs {
			v := vs[(i+j)%len(vs)]
			name, envs, _ := strings.Cut(v, "=")
			for _, k := range []string{"BOTTLE_EXP_OLD", "BOTTLE_EXP_NETSEQ", "BOTTLE_EXP_LATECONNECT", "BOTTLE_EXP_TD"} {
				os.Unsetenv(k)
			}
			for _, kv := range strings.Split(envs, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					os.Setenv(k, v)
				}
			}
			if name == "cli" {
				u, d, err := cliRound(t.TempDir(), prefix+"cli"+strconv.Itoa(i), spec)
				if err != nil {
					t.Fatal(err)
				}
				up[name], down[name] = append(up[name], u), append(down[name], d)
				continue
			}
			opt := Options{Prefix: prefix, StateRoot: filepath.Join(t.TempDir(), "state"), Version: "bench", Now: time.Now}
			t0 := time.Now()
			bt, err := Start(context.Background(), eng, spec, opt)
			if err != nil {
				t.Fatal(err)
			}
			up[name] = append(up[name], time.Since(t0))
			t1 := time.Now()
			if err := bt.teardown(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			down[name] = append(down[name], time.Since(t1))
			bt.lock.Release()
		}
	}
	base, _, _ := strings.Cut(vs[0], "=")
	for _, v := range vs {
		name, _, _ := strings.Cut(v, "=")
		var du, dd []time.Duration
		for i := range up[name] {
			du = append(du, up[name][i]-up[base][i])
			dd = append(dd, down[name][i]-down[base][i])
		}
		fmt.Printf("%-8s up %5.0f (min %5.0f max %5.0f) diff-vs-%s %+5.0f | down %5.0f (min %5.0f max %5.0f) diff %+5.0f\n", name,
			ms(median(up[name])), ms(minD(up[name])), ms(maxD(up[name])), base, ms(median(du)),
			ms(median(down[name])), ms(minD(down[name])), ms(maxD(down[name])), ms(median(dd)))
	}
}

func minD(ds []time.Duration) time.Duration { m := ds[0]; for _, d := range ds { m = min(m, d) }; return m }
func maxD(ds []time.Duration) time.Duration { m := ds[0]; for _, d := range ds { m = max(m, d) }; return m }
