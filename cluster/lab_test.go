package cluster_test

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/cluster/kubelet"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/lab/netns"
	"github.com/onp-lab/onp/lab/supervisor"
	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/topology"
)

// The test binary doubles as the lab supervisor and as the cluster agent
// (`onp __cluster-agent` in the product), so the agent runs inside the
// node's namespace as a supervised process, as in a real lab.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "__supervise" {
		if err := supervisor.Run(context.Background(), os.Args[2], nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) > 1 && os.Args[1] == "__cluster-agent" {
		fs := flag.NewFlagSet("agent", flag.ExitOnError)
		labName := fs.String("lab", "", "")
		node := fs.String("node", "", "")
		dir := fs.String("dir", "", "")
		addr := fs.String("address", "", "")
		fs.Parse(os.Args[2:])
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		opts := cluster.AgentOptions{Lab: *labName, Node: *node, Dir: *dir}
		if *addr != "" {
			opts.NodeAddresses = []netip.Addr{netip.MustParseAddr(*addr)}
		}
		if err := cluster.RunAgent(ctx, opts); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const snoLab = `
name: %s
networks:
  - {name: sno0, subnet: 192.168.126.0/24}
nodes:
  - name: sno4
    kind: host
    interfaces: [{network: sno0, address: 192.168.126.2}]
  - name: client
    kind: host
    interfaces: [{network: sno0, address: 192.168.126.10}]
    routes: [{to: 10.0.0.0/24, via: 192.168.126.2}]
`

// A supervised agent in a lab's node: pods run, and `onp down` (the lab's
// Destroy) removes their namespaces along with the agent.
func TestAgentInLabDownRemovesPods(t *testing.T) {
	testutil.RequireRoot(t)
	exe, _ := os.Executable()
	m := &lab.Manager{
		Paths:    lab.Paths{Home: t.TempDir()},
		Provider: &netns.Provider{SupervisorArgv: func(dir string) []string { return []string{exe, "__supervise", dir} }},
		Kinds:    map[string]lab.Kind{"host": kinds.Host{}},
	}
	name := testutil.RandName("t", 6)
	top, err := topology.Parse("lab.yaml", []byte(fmt.Sprintf(snoLab, name)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := m.Up(ctx, top, lab.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Down(context.Background(), name); removePodNamespaces(name) })
	// As the CLI does: a loaded lab (its journal closed after up).
	if l, err = m.Load(name); err != nil {
		t.Fatal(err)
	}
	node, err := m.Node(l, "sno4")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(l.Dir, "nodes", "sno4")
	if err := node.Start(ctx, lab.Service{Name: "cluster-agent", Argv: []string{exe, "__cluster-agent", "--lab", name, "--node", "sno4", "--dir", dir}}); err != nil {
		t.Fatal(err)
	}
	c := client.New(cluster.SocketPath(dir))
	defer c.Close()
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error { return c.Ping(ctx) })
	docs, err := api.Decode("seed", []byte(seedYAML(t)))
	if err != nil {
		t.Fatal(err)
	}
	var objs []api.Object
	for _, d := range docs {
		objs = append(objs, d.Object)
	}
	if _, err := c.Apply(ctx, objs, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod *api.Pod
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error {
		pod, err = kube.Get[api.Pod](ctx, c, "onp-metallb", "echoserver")
		if err != nil {
			return err
		}
		if pod.Status.Phase != "Running" {
			return fmt.Errorf("pod %s", pod.Status.Phase)
		}
		return nil
	})
	// The node's addresses were found on its interfaces.
	n, err := kube.Get[api.Node](ctx, c, "", "sno4")
	if err != nil {
		t.Fatal(err)
	}
	if n.Status.Addresses[0].Address != "192.168.126.2" || n.Labels["node-role.kubernetes.io/master"] != "" || n.Labels["kubernetes.io/hostname"] != "sno4" {
		t.Fatalf("node: %+v %v", n.Status.Addresses, n.Labels)
	}
	// A client in the lab reaches the service through the node.
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		out, code := runIn(t, m, l, "client", "curl", "-s", "-m", "3", "http://10.0.0.10:8080/")
		if code != 0 || !strings.Contains(out, "client_address=10.128.0.1") {
			return fmt.Errorf("curl from the client: exit %d\n%s", code, out)
		}
		return nil
	})
	podNs := kubelet.PodNetns(name, "sno4", pod.UID)
	if !nsx.IsMounted(podNs) {
		t.Fatalf("no pod namespace %s", podNs)
	}
	rep, err := m.Down(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ns := range rep.Namespaces {
		found = found || ns == podNs
	}
	if !found {
		t.Errorf("down did not report removing %s: %v", podNs, rep.Namespaces)
	}
	all, _ := nsx.List()
	for _, ns := range all {
		if strings.HasPrefix(ns, topology.FabricNamespace(name)) {
			t.Errorf("namespace %s left after down", ns)
		}
	}
}

func runIn(t *testing.T, m *lab.Manager, l *lab.Lab, node string, argv ...string) (string, int) {
	t.Helper()
	n, err := m.Node(l, node)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res, err := n.Exec(context.Background(), argv, lab.ExecOptions{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), res.ExitCode
}
