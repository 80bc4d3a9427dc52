package scenarios_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/topology"
)

const clusterLab = `
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

// The cluster checks and steps through a node that runs the cluster agent
// (as the sno kind will): apply the seed manifests, the Service gets its
// EXTERNAL-IP and answers; deleting it makes the checks fail.
func TestClusterChecks(t *testing.T) {
	m := manager(t)
	name := testutil.RandName("cl", 5)
	top, err := topology.Parse("lab.yaml", []byte(fmt.Sprintf(clusterLab, name)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := m.Up(ctx, top, lab.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Down(context.Background(), name)
		all, _ := nsx.List()
		for _, ns := range all {
			if strings.HasPrefix(ns, topology.FabricNamespace(name)+".") {
				nsx.Delete(ns)
			}
		}
	})
	// As the CLI does: a loaded lab (its journal closed after up).
	if l, err = m.Load(name); err != nil {
		t.Fatal(err)
	}
	node, err := m.Node(l, "sno4")
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	dir := filepath.Join(l.Dir, "nodes", "sno4")
	if err := node.Start(ctx, lab.Service{Name: "cluster-agent", Argv: []string{exe, "__cluster-agent", "--lab", name, "--node", "sno4", "--dir", dir}}); err != nil {
		t.Fatal(err)
	}
	cl := client.New(cluster.SocketPath(dir))
	defer cl.Close()
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error { return cl.Ping(ctx) })

	env := scenarios.NewLabEnv(m, l)
	defer env.Close()
	c := &checkLab{t: t, m: m, l: l, env: env}
	api, err := env.Cluster(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var seed []byte
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		b, err := topology.BuiltinFS().(interface{ ReadFile(string) ([]byte, error) }).ReadFile("builtin/seed/" + f)
		if err != nil {
			t.Fatal(err)
		}
		seed = append(append(seed, b...), []byte("\n---\n")...)
	}
	if err := api.Apply(ctx, "seed", seed); err != nil {
		t.Fatal(err)
	}
	res := c.run(`
  - {type: service-ip, service: onp-metallb/echoserver, ip: 10.0.0.10}
  - {type: http, node: client, url: "http://10.0.0.10:8080/", clientAddress: 10.128.0.1}
`)
	expect(t, res[0], scenarios.Pass, `^EXTERNAL-IP 10\.0\.0\.10$`)
	expect(t, res[1], scenarios.Pass, `^HTTP 200 OK, client_address=10\.128\.0\.1`)

	err = api.Apply(ctx, "bad", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: nowhere}\nspec: {ports: [{port: 1}]}\n"))
	if err == nil || !scenarios.IsPermanent(err) || !strings.Contains(err.Error(), "the cluster refused it") {
		t.Errorf("apply into a missing namespace: %v", err)
	}
	if err := api.Delete(ctx, []scenarios.ObjectRef{{Kind: "Service", Namespace: "onp-metallb", Name: "echoserver"}}); err != nil {
		t.Fatal(err)
	}
	res = c.run(`
  - {type: service-ip, service: onp-metallb/echoserver, wait: 1s}
  - {type: http, node: client, url: "http://10.0.0.10:8080/", wait: 1s}
`)
	expect(t, res[0], scenarios.Fail, `^expected an EXTERNAL-IP, saw no such Service for`)
	expect(t, res[1], scenarios.Fail, `^expected HTTP 200, saw (connection refused|no answer|no route to host|network unreachable)`)
}
