package scenarios_test

import (
	"context"
	"fmt"
	"io/fs"
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
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/scenarios/spec"
	"github.com/onp-lab/onp/topology"
)

// The reference lab as far as this build has it: sno4 is a host node that
// runs the cluster agent and the MetalLB speaker as supervised processes
// (what the sno kind will do), the router is a vyos node typed with the
// seed commands, the client sits behind the router.
const referenceLab = `
name: %s
networks:
  - {name: sno0, subnet: 192.168.126.0/24}
  - {name: ext0, subnet: 192.168.100.0/24}
nodes:
  - name: sno4
    kind: host
    interfaces: [{network: sno0, address: 192.168.126.2}]
    routes: [{to: 192.168.100.0/24, via: 192.168.126.3}]
  - name: vyos
    kind: vyos
    interfaces:
      - {network: sno0, address: 192.168.126.3}
      - {network: ext0, address: 192.168.100.1}
  - name: client
    kind: host
    interfaces: [{network: ext0, address: 192.168.100.10}]
    routes: [{to: default, via: 192.168.100.1}]
`

// snoEnv is the lab's Env with sno4 seen as the cluster node it plays.
type snoEnv struct {
	*scenarios.LabEnv
	ctx *spec.Context
}

func (e snoEnv) Context() *spec.Context { return e.ctx }

func TestReferenceChecks(t *testing.T) {
	m := manager(t)
	name := testutil.RandName("rf", 5)
	top, err := topology.Parse("lab.yaml", []byte(fmt.Sprintf(referenceLab, name)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m.Up(ctx, top, lab.UpOptions{}); err != nil {
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
	l, err := m.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	node, err := m.Node(l, "sno4")
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	dir := filepath.Join(l.Dir, "nodes", "sno4")
	apiSock := cluster.SocketPath(dir)
	os.MkdirAll(lab.NodeRunDir(name, "sno4"), 0o755)
	for _, svc := range []lab.Service{
		{Name: "cluster-agent", Argv: []string{exe, "__cluster-agent", "--lab", name, "--node", "sno4", "--dir", dir}},
		{Name: "speaker", Argv: []string{exe, "speaker", "--node", "sno4", "--api-socket", apiSock, "--status-socket", kinds.SpeakerSocket(name, "sno4")}},
	} {
		if err := node.Start(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	cl := client.New(apiSock)
	defer cl.Close()
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, func() error { return cl.Ping(ctx) })

	le := scenarios.NewLabEnv(m, l)
	defer le.Close()
	lctx := topology.CheckContext(l.Topology)
	lctx.Node("sno4").Kind = "sno"
	env := snoEnv{le, lctx}
	run := func(yamlChecks string) []scenarios.CheckResult {
		t.Helper()
		checks, err := spec.ParseFile("test.yaml", []byte("checks:\n"+yamlChecks), lctx)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		r := &scenarios.Runner{Env: env, Observer: &scenarios.TextReporter{W: &out}}
		res := r.Run(ctx, checks)
		t.Logf("\n%s", out.String())
		return res
	}

	// The user's steps: type the seed commands, apply the seed files.
	rc, err := env.RouterConfig(ctx, "vyos")
	if err != nil {
		t.Fatal(err)
	}
	cmds, _ := fs.ReadFile(topology.BuiltinFS(), "builtin/seed/04-vyos-commands.txt")
	if out, err := rc.Type(ctx, strings.Split(string(cmds), "\n")); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	api, err := env.Cluster(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		b, err := fs.ReadFile(topology.BuiltinFS(), "builtin/seed/"+f)
		if err != nil {
			t.Fatal(err)
		}
		if err := api.Apply(ctx, f, b); err != nil {
			t.Fatal(err)
		}
	}
	// The reference checks of issue 5.
	res := run(`
  - {name: session, type: bgp-session, nodes: [vyos, sno4], peers: [vyos, sno4]}
  - {type: bgp-route, node: vyos, prefix: 10.0.0.10/32, nexthops: [sno4], communities: ["65535:65282"], localPref: 100}
  - {type: fib-route, node: vyos, prefix: 10.0.0.10/32, nexthops: [192.168.126.2]}
  - {type: service-ip, service: onp-metallb/echoserver, ip: 10.0.0.10}
  - {type: http, node: client, url: "http://10.0.0.10:8080/", bodyContains: "Hostname: echoserver"}
`)
	for _, r := range res {
		expect(t, r, scenarios.Pass, ".")
	}
	expect(t, res[3], scenarios.Pass, `^EXTERNAL-IP 10\.0\.0\.10$`)
	expect(t, res[4], scenarios.Pass, `^HTTP 200 OK, client_address=`)

	err = api.Apply(ctx, "bad", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: nowhere}\nspec: {ports: [{port: 1}]}\n"))
	if err == nil || !scenarios.IsPermanent(err) || !strings.Contains(err.Error(), "the cluster refused it") {
		t.Errorf("apply into a missing namespace: %v", err)
	}
	// The service goes: the route is withdrawn everywhere.
	if err := api.Delete(ctx, []scenarios.ObjectRef{{Kind: "Service", Namespace: "onp-metallb", Name: "echoserver"}}); err != nil {
		t.Fatal(err)
	}
	res = run(`
  - {type: bgp-route, node: vyos, prefix: 10.0.0.10/32, present: false}
  - {type: service-ip, service: onp-metallb/echoserver, wait: 1s}
  - {type: http, node: client, url: "http://10.0.0.10:8080/", wait: 1s}
`)
	expect(t, res[0], scenarios.Pass, `^no route`)
	expect(t, res[1], scenarios.Fail, `^expected an EXTERNAL-IP, saw no such Service for`)
	expect(t, res[2], scenarios.Fail, `^expected HTTP 200, saw (connection refused|no answer|no route to host|network unreachable)`)

	// The speaker stops: the router sees the session go, the speaker's
	// status cannot be read.
	if err := env.Faults().Service(ctx, "sno4", "speaker", "stop"); err != nil {
		t.Fatal(err)
	}
	res = run(`
  - {type: bgp-session, node: vyos, peer: sno4, wait: 2s}
  - {type: bgp-session, node: sno4, peer: vyos, wait: 1s}
`)
	expect(t, res[0], scenarios.Fail, `^expected Established, saw (Active|Connect|Idle) for`)
	expect(t, res[1], scenarios.Error, `^cannot run: the speaker on sno4: speaker status: (no socket|nothing answers)`)
}
