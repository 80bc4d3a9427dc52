package scenarios_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/netns"
	"github.com/onp-lab/onp/lab/supervisor"
	"github.com/onp-lab/onp/metallb/speaker"
	"github.com/onp-lab/onp/vyos/appliance"
)

// The test binary doubles as onp for the processes labs start: the
// supervisor, the frr kind's router process and the vyos appliance.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer cancel()
		var err error
		switch os.Args[1] {
		case "__supervise":
			err = supervisor.Run(ctx, os.Args[2], nil)
		case "__frr-router":
			var o kinds.FRRRouterOptions
			fs := flag.NewFlagSet("frr", flag.ExitOnError)
			fs.StringVar(&o.ConfigPath, "config", "", "")
			fs.StringVar(&o.RunDir, "run", "", "")
			fs.StringVar(&o.LogDir, "log-dir", "", "")
			fs.Parse(os.Args[2:])
			err = kinds.RunFRRRouter(ctx, o)
		case "__cluster-agent":
			fs := flag.NewFlagSet("agent", flag.ExitOnError)
			var o cluster.AgentOptions
			fs.StringVar(&o.Lab, "lab", "", "")
			fs.StringVar(&o.Node, "node", "", "")
			fs.StringVar(&o.Dir, "dir", "", "")
			fs.Parse(os.Args[2:])
			err = cluster.RunAgent(ctx, o)
		case "__speaker":
			fs := flag.NewFlagSet("speaker", flag.ExitOnError)
			o := speaker.Options{MetricsAddr: speaker.MetricsOff}
			fs.StringVar(&o.NodeName, "node", "", "")
			fs.StringVar(&o.APISocket, "api-socket", "", "")
			fs.StringVar(&o.StatusSocket, "status-socket", "", "")
			fs.Parse(os.Args[2:])
			err = speaker.Run(ctx, o)
		case "-v":
			if len(os.Args) > 2 && os.Args[2] == "__vyos-router" {
				err = runVyOSRouter(ctx, os.Args[3:])
				break
			}
			os.Exit(m.Run())
		default:
			os.Exit(m.Run())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runVyOSRouter(ctx context.Context, args []string) error {
	var o appliance.Options
	var users string
	fs := flag.NewFlagSet("vyos", flag.ExitOnError)
	fs.StringVar(&o.Dir, "dir", "", "")
	fs.StringVar(&o.FRRDir, "frr-dir", "", "")
	fs.StringVar(&o.Socket, "socket", "", "")
	fs.StringVar(&o.Listen, "listen", "", "")
	fs.StringVar(&o.Dialect, "dialect", "1.3", "")
	fs.StringVar(&users, "users", "", "")
	fs.Parse(args)
	if users != "" {
		b, err := os.ReadFile(users)
		if err != nil {
			return err
		}
		var us []kinds.RouterUser
		if err := json.Unmarshal(b, &us); err != nil {
			return err
		}
		for _, u := range us {
			o.Users = append(o.Users, appliance.User{Name: u.Name, Password: u.Password, AuthorizedKeys: u.AuthorizedKeys})
		}
	}
	return appliance.Run(ctx, o)
}

// manager builds labs with the host, frr and vyos kinds; its state lives in
// a short temporary directory (FRR socket paths must stay short).
func manager(t testing.TB) *lab.Manager {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	home, err := os.MkdirTemp("", "onps")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	return &lab.Manager{
		Paths:    lab.Paths{Home: home},
		Provider: &netns.Provider{SupervisorArgv: func(dir string) []string { return []string{exe, "__supervise", dir} }},
		Kinds: map[string]lab.Kind{
			"host": kinds.Host{},
			"frr":  kinds.FRR{Exe: exe},
			"vyos": kinds.VyOS{Exe: exe},
		},
	}
}
