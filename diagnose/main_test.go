package diagnose_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
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
// supervisor, the frr kind's router process, the vyos appliance, the
// cluster agent and the speaker (with the arguments the kinds give them).
func TestMain(m *testing.M) {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "-v" && len(args) > 1 && strings.HasPrefix(args[1], "__") || len(args) > 1 && args[0] == "-v" && args[1] == "speaker" {
		args = args[1:]
	}
	if len(args) == 0 || !(strings.HasPrefix(args[0], "__") || args[0] == "speaker") {
		os.Exit(m.Run())
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	var err error
	fs := flag.NewFlagSet(args[0], flag.ExitOnError)
	switch args[0] {
	case "__supervise":
		dir := fs.String("dir", "", "")
		fs.Parse(args[1:])
		err = supervisor.Run(ctx, *dir, nil)
	case "__frr-router":
		var o kinds.FRRRouterOptions
		fs.StringVar(&o.ConfigPath, "config", "", "")
		fs.StringVar(&o.RunDir, "run", "", "")
		fs.StringVar(&o.LogDir, "log-dir", "", "")
		fs.Parse(args[1:])
		err = kinds.RunFRRRouter(ctx, o)
	case "__vyos-router":
		err = runVyOSRouter(ctx, fs, args[1:])
	case "__cluster-agent":
		var o cluster.AgentOptions
		var pod string
		var ips stringList
		fs.StringVar(&o.Lab, "lab", "", "")
		fs.StringVar(&o.Node, "node", "", "")
		fs.StringVar(&o.Dir, "dir", "", "")
		fs.StringVar(&pod, "pod-subnet", "", "")
		fs.Var(&ips, "node-ip", "")
		fs.Parse(args[1:])
		if pod != "" {
			o.PodSubnet = netip.MustParsePrefix(pod)
		}
		for _, s := range ips {
			o.NodeAddresses = append(o.NodeAddresses, netip.MustParseAddr(s))
		}
		err = cluster.RunAgent(ctx, o)
	case "speaker":
		o := speaker.Options{MetricsAddr: speaker.MetricsOff}
		fs.StringVar(&o.NodeName, "node", "", "")
		fs.StringVar(&o.APISocket, "api-socket", "", "")
		fs.StringVar(&o.StatusSocket, "status-socket", "", "")
		fs.Parse(args[1:])
		err = speaker.Run(ctx, o)
	default:
		err = fmt.Errorf("unknown helper %q", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runVyOSRouter(ctx context.Context, fs *flag.FlagSet, args []string) error {
	var o appliance.Options
	var users string
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
