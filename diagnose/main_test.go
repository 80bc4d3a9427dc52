package diagnose_test

import (
	"os"
	"testing"

	"github.com/onp-lab/onp/internal/daemons"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/netns"
)

// The test binary doubles as onp for the processes labs start: the
// supervisor, the frr kind's router process, the vyos appliance, the
// cluster agent and the speaker (with the arguments the kinds give them).
func TestMain(m *testing.M) { daemons.Main(m.Run) }

// manager builds labs with the real kinds; its state lives in a short
// temporary directory (unix socket paths must stay short).
func manager(t testing.TB) *lab.Manager {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	home, err := os.MkdirTemp("", "onpd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	return &lab.Manager{
		Paths:    lab.Paths{Home: home},
		Provider: &netns.Provider{SupervisorArgv: func(dir string) []string { return []string{exe, "__supervise", "--dir", dir} }},
		Kinds: map[string]lab.Kind{
			"host": kinds.Host{},
			"frr":  kinds.FRR{Exe: exe},
			"vyos": kinds.VyOS{Exe: exe},
			"sno":  kinds.SNO{Exe: exe},
		},
	}
}

func birdKind() lab.Kind { return kinds.BIRD{} }
