// Package daemons runs the processes labs start from the onp binary — the
// supervisor, the frr kind's router, the vyos appliance, the cluster agent
// and the speaker — from the arguments the lab kinds give them, for test
// binaries that stand in for onp (their TestMain calls Run). The speaker's
// metrics endpoint is off unless --metrics-addr asks for it.
package daemons

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/supervisor"
	"github.com/onp-lab/onp/metallb/speaker"
	"github.com/onp-lab/onp/vyos/appliance"
)

// Names are the commands Run knows.
var Names = []string{"__supervise", "__frr-router", "__vyos-router", "__cluster-agent", "speaker"}

// Run runs the process args name (a leading "-v" is skipped) until ctx
// ends. ok is false when args name none of Names.
func Run(ctx context.Context, args []string, log *slog.Logger) (ok bool, err error) {
	if len(args) > 1 && args[0] == "-v" {
		args = args[1:]
	}
	if len(args) == 0 || !isName(args[0]) {
		return false, nil
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	switch args[0] {
	case "__supervise":
		dir := fs.String("dir", "", "lab directory")
		if err := fs.Parse(args[1:]); err != nil {
			return true, err
		}
		return true, supervisor.Run(ctx, *dir, log)
	case "__frr-router":
		o := kinds.FRRRouterOptions{Logger: log}
		fs.StringVar(&o.ConfigPath, "config", "", "frr.conf to apply")
		fs.StringVar(&o.RunDir, "run", "", "runtime directory")
		fs.StringVar(&o.LogDir, "log-dir", "", "daemon logs")
		if err := fs.Parse(args[1:]); err != nil {
			return true, err
		}
		return true, kinds.RunFRRRouter(ctx, o)
	case "__vyos-router":
		o := appliance.Options{Logger: log}
		var users string
		fs.StringVar(&o.Dir, "dir", "", "router directory")
		fs.StringVar(&o.FRRDir, "frr-dir", "", "FRR runtime directory")
		fs.StringVar(&o.Socket, "socket", "", "console socket")
		fs.StringVar(&o.Listen, "listen", "", "TCP listen address")
		fs.StringVar(&o.Dialect, "dialect", "1.3", "CLI dialect")
		fs.StringVar(&users, "users", "", "JSON file with the logins")
		if err := fs.Parse(args[1:]); err != nil {
			return true, err
		}
		us, err := RouterUsers(users)
		if err != nil {
			return true, err
		}
		o.Users = us
		return true, appliance.Run(ctx, o)
	case "__cluster-agent":
		o := cluster.AgentOptions{Logger: log}
		var pod string
		var ips listFlag
		fs.StringVar(&o.Lab, "lab", "", "lab name")
		fs.StringVar(&o.Node, "node", "", "node name")
		fs.StringVar(&o.Dir, "dir", "", "the node's directory")
		fs.StringVar(&pod, "pod-subnet", "", "pod addresses")
		fs.Var(&ips, "node-ip", "the node's addresses")
		if err := fs.Parse(args[1:]); err != nil {
			return true, err
		}
		if pod != "" {
			p, err := netip.ParsePrefix(pod)
			if err != nil {
				return true, fmt.Errorf("--pod-subnet: %w", err)
			}
			o.PodSubnet = p
		}
		for _, s := range ips {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				return true, fmt.Errorf("--node-ip: %w", err)
			}
			o.NodeAddresses = append(o.NodeAddresses, ip)
		}
		return true, cluster.RunAgent(ctx, o)
	default: // speaker
		o := speaker.Options{Logger: log}
		fs.StringVar(&o.NodeName, "node", "", "this node's name")
		fs.StringVar(&o.APISocket, "api-socket", "", "the node's cluster API socket")
		fs.StringVar(&o.StatusSocket, "status-socket", "", "status endpoint socket")
		fs.StringVar(&o.MetricsAddr, "metrics-addr", speaker.MetricsOff, "Prometheus listen address")
		if err := fs.Parse(args[1:]); err != nil {
			return true, err
		}
		return true, speaker.Run(ctx, o)
	}
}

func isName(s string) bool {
	for _, n := range Names {
		if n == s {
			return true
		}
	}
	return false
}

// RouterUsers reads the logins of a vyos node (the JSON file the vyos kind
// writes); no file, no users (the appliance's default).
func RouterUsers(file string) ([]appliance.User, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var us []kinds.RouterUser
	if err := json.Unmarshal(b, &us); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := make([]appliance.User, 0, len(us))
	for _, u := range us {
		out = append(out, appliance.User{Name: u.Name, Password: u.Password, AuthorizedKeys: u.AuthorizedKeys})
	}
	return out, nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// Main is the TestMain of a test binary that stands in for onp: it runs
// the process its arguments name, or else the tests, and exits.
func Main(tests func() int) {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	ok, err := Run(ctx, os.Args[1:], nil)
	cancel()
	if !ok {
		os.Exit(tests())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
