package vyos

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/internal/testutil"
)

// testRouter is a Router on a real FRR inside a throwaway namespace.
type testRouter struct {
	*Router
	ns  *testutil.Netns
	frr *frr.Instance
	dir string
}

// startFRR starts FRR in ns with a short runtime directory.
func startFRR(t testing.TB, ns *testutil.Netns) *frr.Instance {
	t.Helper()
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "vtysh", "frr")
	dir, err := os.MkdirTemp("", "onpvy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := frr.Start(ctx, frr.Options{Dir: dir, NetnsPath: ns.Path})
	if err != nil {
		t.Fatalf("start frr: %v", err)
	}
	t.Cleanup(func() { in.Stop(context.Background()) })
	return in
}

// newTestRouter creates a namespace, its FRR and a Router with a fresh
// router directory. setup, when set, runs on the namespace before the
// router starts (to create interfaces).
func newTestRouter(t testing.TB, d Dialect, setup func(ns *testutil.Netns)) *testRouter {
	t.Helper()
	testutil.RequireRoot(t)
	ns := testutil.NewNetns(t)
	if setup != nil {
		setup(ns)
	}
	in := startFRR(t, ns)
	dir := t.TempDir()
	r, err := NewRouter(context.Background(), RouterOptions{Dir: dir, Dialect: d, FRR: in, NetnsPath: ns.Path})
	if err != nil {
		t.Fatalf("new router: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return &testRouter{Router: r, ns: ns, frr: in, dir: dir}
}

// running returns FRR's running config as whitespace-normalized lines.
func (tr *testRouter) running(t testing.TB) []string {
	t.Helper()
	out, err := tr.frr.RunningConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return normalizedLines(out)
}

func normalizedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func hasLine(lines []string, want string) bool {
	want = strings.Join(strings.Fields(want), " ")
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// mustExec runs shell lines and fails on output that carries a VyOS
// failure marker.
func mustExec(t testing.TB, sh *Shell, lines ...string) {
	t.Helper()
	for _, l := range lines {
		out, _ := sh.Exec(context.Background(), l)
		for _, m := range failureMarkers {
			if strings.Contains(out, m) {
				t.Fatalf("%q: %s", l, out)
			}
		}
	}
}

var failureMarkers = []string{"Set failed", "Delete failed", "Commit failed", "is not valid", "Invalid command", "Value validation failed"}
