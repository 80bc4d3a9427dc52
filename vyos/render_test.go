package vyos

import (
	"context"
	goflag "flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/internal/testutil"
)

var update = goflag.Bool("update", false, "rewrite golden files in testdata/")

type renderCase struct {
	name string
	cfg  *Config
}

// loadRenderCases reads testdata/render/*.cmds: set lines, with the
// dialect in a "# dialect X" comment.
func loadRenderCases(t *testing.T) []renderCase {
	t.Helper()
	files, err := filepath.Glob("testdata/render/*.cmds")
	if err != nil || len(files) == 0 {
		t.Fatalf("no render cases: %v", err)
	}
	var out []renderCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := V13
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "# dialect ") {
				d = Dialect(strings.TrimPrefix(l, "# dialect "))
			}
		}
		c, err := ParseCommands(d, string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, renderCase{name: strings.TrimSuffix(filepath.Base(f), ".cmds"), cfg: c})
	}
	return out
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./vyos/ -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update after checking the diff)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRenderGolden(t *testing.T) {
	for _, c := range loadRenderCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, is := range Verify(c.cfg, VerifyEnv{}) {
				if !is.Warning {
					t.Fatalf("test configuration does not verify: %+v", is)
				}
			}
			golden(t, filepath.Join("testdata/render", c.name+".frr"), Render(c.cfg))
			golden(t, filepath.Join("testdata/render", c.name+".boot"), c.cfg.Boot())
			// config.boot reads back to the same tree.
			back, err := ParseBoot(c.cfg.Dialect(), c.cfg.Boot())
			if err != nil {
				t.Fatalf("ParseBoot(Boot()): %v", err)
			}
			if !back.Equal(c.cfg) {
				t.Errorf("config.boot round trip changed the tree:\n%s", strings.Join(back.Commands(), "\n"))
			}
			// So do the set commands.
			again, err := ParseCommands(c.cfg.Dialect(), strings.Join(c.cfg.Commands(), "\n"))
			if err != nil {
				t.Fatalf("ParseCommands(Commands()): %v", err)
			}
			if !again.Equal(c.cfg) {
				t.Errorf("commands round trip changed the tree")
			}
		})
	}
}

// TestRenderedConfigIsStable applies every golden rendering to a real FRR
// and checks that FRR takes all of it and that nothing is left to apply
// afterwards: the renderer's output, as normalized by frr.Apply, is what
// FRR shows, so an unchanged configuration re-applies as a no-op.
func TestRenderedConfigIsStable(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetns(t)
	in := startFRR(t, ns)
	ctx := context.Background()
	for _, c := range loadRenderCases(t) {
		t.Run(c.name, func(t *testing.T) {
			target := Render(c.cfg)
			if _, err := in.Apply(ctx, target); err != nil {
				t.Fatalf("FRR rejected the rendering: %v", err)
			}
			running, err := in.RunningConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if left := frr.Plan(running, target); len(left) != 0 {
				t.Errorf("re-applying would send:\n  %s\nrunning:\n%s", strings.Join(left, "\n  "), running)
			}
		})
	}
	if _, err := in.Apply(ctx, ""); err != nil {
		t.Fatal(err)
	}
}

// TestRemoveEachLine takes the broad render cases and, one set command at a
// time, commits the configuration without that command and then with it
// again, on a real FRR: every transition VyOS would accept must be applied
// by frr.Apply (whose "no" forms differ from line to line) and must leave
// FRR exactly at the rendered configuration.
func TestRemoveEachLine(t *testing.T) {
	testutil.RequireRoot(t)
	if testing.Short() {
		t.Skip("skipped in -short mode: a few hundred commits against FRR")
	}
	for _, name := range []string{"full14", "full13"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile("testdata/render/" + name + ".cmds")
			if err != nil {
				t.Fatal(err)
			}
			d := V13
			if strings.Contains(string(b), "# dialect 1.4") {
				d = V14
			}
			setup, _ := labPair(t)
			tr := newTestRouter(t, d, setup)
			ctx := context.Background()
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			full, err := ParseCommands(d, string(b))
			if err != nil {
				t.Fatal(err)
			}
			commit := func(what string, c *Config) {
				t.Helper()
				if res := tr.Commit(ctx, c); !res.OK && !strings.Contains(res.Output, "No configuration changes") {
					t.Errorf("%s: commit failed:\n%s", what, res.Output)
					return
				}
				running, err := tr.frr.RunningConfig(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if left := frr.Plan(running, Render(c)); len(left) != 0 {
					t.Errorf("%s: FRR is not at the rendered configuration; still planned %q", what, left)
				}
			}
			commit("full", full)
			tried := 0
			for i, l := range lines {
				if !strings.HasPrefix(l, "set ") {
					continue
				}
				without := strings.Join(append(append([]string(nil), lines[:i]...), lines[i+1:]...), "\n")
				c, err := ParseCommands(d, without)
				if err != nil {
					t.Fatal(err)
				}
				ok := true
				for _, is := range Verify(c, VerifyEnv{}) {
					ok = ok && is.Warning
				}
				if !ok || c.Equal(full) {
					continue // VyOS would refuse it, or it changes nothing
				}
				tried++
				commit("without "+l, c)
				commit("with "+l, full)
			}
			t.Logf("%d single-command removals committed and restored", tried)
		})
	}
}
