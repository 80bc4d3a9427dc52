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
