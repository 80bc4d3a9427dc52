package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/topology"
)

// The test binary doubles as the onp binary (for the supervisor it starts,
// and for tests that need onp as a separate process to kill).
func TestMain(m *testing.M) {
	if os.Getenv("ONP_TEST_AS_ONP") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Setenv("ONP_TEST_AS_ONP", "1") // inherited by supervisors
	code := m.Run()
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// onp runs the CLI in-process with its own state directory.
func onp(t *testing.T, home string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"--home", home}, args...), strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func TestTopologyValidateAndShow(t *testing.T) {
	home := t.TempDir()
	r := onp(t, home, "topology", "validate", "sno-bgp", "routed-hosts")
	if r.code != 0 || !strings.Contains(r.stdout, "builtin:sno-bgp: valid (lab onp: 2 networks, 3 nodes)") {
		t.Fatalf("validate builtins: %+v", r)
	}
	r = onp(t, home, "topology", "validate", "../../topology/testdata/invalid/many.yaml")
	if r.code != 2 || strings.Count(r.stderr, "\n") != 9 || !strings.Contains(r.stderr, "many.yaml:20:5: nodes[0].colour: unknown field") {
		t.Fatalf("validate invalid file: code %d\n%s", r.code, r.stderr)
	}
	r = onp(t, home, "topology", "show", "sno-bgp")
	src, _ := topology.BuiltinSource("sno-bgp")
	if r.code != 0 || r.stdout != string(src) {
		t.Fatalf("show: %+v", r)
	}
	r = onp(t, home, "topology", "show", "nope")
	if r.code == 0 || !strings.Contains(r.stderr, `no built-in lab "nope" (built-ins: routed-hosts, sno-bgp)`) {
		t.Fatalf("show unknown: %+v", r)
	}
	r = onp(t, home, "topology", "list", "-o", "json")
	var bs []topology.BuiltinInfo
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &bs) != nil || len(bs) < 2 {
		t.Fatalf("list json: %+v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	home := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"vyos", "FOO=bar"}, "unknown variable FOO (this command takes LAB, NAME, NETWORK, VERSION)"},
		{[]string{"vyos"}, "NETWORK is required, e.g. onp vyos NETWORK=sno0"},
		{[]string{"vyos", "NETWORK=nowhere"}, `lab onp has no network "nowhere", and it is not an ONP bridge`},
		{[]string{"up", "-f", "x.yaml", "sno-bgp"}, "give either a built-in name or -f FILE, not both"},
		{[]string{"status", "-o", "xml"}, `unknown output format "xml"`},
		{[]string{"frobnicate"}, "unknown command"},
	} {
		r := onp(t, home, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("onp %s: code %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
}

func TestInvalidLabFileCreatesNothing(t *testing.T) {
	testutil.RequireRoot(t)
	home := t.TempDir()
	before, _ := nsx.List()
	r := onp(t, home, "up", "-f", "../../topology/testdata/invalid/addresses.yaml")
	if r.code != 2 || strings.Count(r.stderr, "addresses.yaml:") != 7 {
		t.Fatalf("code %d\n%s", r.code, r.stderr)
	}
	after, _ := nsx.List()
	if len(after) != len(before) {
		t.Fatalf("namespaces changed: %v -> %v", before, after)
	}
}

func TestUpExecStatusDown(t *testing.T) {
	testutil.RequireRoot(t)
	home := t.TempDir()
	name := testutil.RandName("c", 6)
	r := onp(t, home, "up", "routed-hosts", "--name", name)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("Lab %q is up (2 networks, 3 nodes)", name)) {
		t.Fatalf("up: %+v", r)
	}
	defer onp(t, home, "down", name)
	r = onp(t, home, "up", "routed-hosts", "--name", name)
	if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("lab %q already exists", name)) {
		t.Fatalf("second up: %+v", r)
	}
	r = onp(t, home, "exec", "--lab", name, "h1", "--", "ping", "-c1", "-W1", "10.1.2.10")
	if r.code != 0 || !strings.Contains(r.stdout, "1 received") {
		t.Fatalf("exec ping: %+v", r)
	}
	r = onp(t, home, "exec", "--lab", name, "h1", "--", "sh", "-c", "exit 7")
	if r.code != 7 {
		t.Fatalf("exit code not passed through: %+v", r)
	}
	r = onp(t, home, "exec", "--lab", name, "nosuch", "--", "true")
	if r.code != 1 || !strings.Contains(r.stderr, `has no node "nosuch" (nodes: h1, r1, h2)`) {
		t.Fatalf("unknown node: %+v", r)
	}
	r = onp(t, home, "status", name, "-o", "json")
	var inv lab.Inventory
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &inv) != nil || len(inv.Nodes) != 3 || !inv.Nodes[0].Exists {
		t.Fatalf("status json: %+v", r)
	}
	r = onp(t, home, "list")
	if r.code != 0 || !strings.Contains(r.stdout, name) {
		t.Fatalf("list: %+v", r)
	}
	r = onp(t, home, "down", name)
	if r.code != 0 || !strings.Contains(r.stderr, "4 namespaces") {
		t.Fatalf("down: %+v", r)
	}
	r = onp(t, home, "down", name)
	if r.code != 0 || !strings.Contains(r.stderr, "nothing to remove") {
		t.Fatalf("second down: %+v", r)
	}
}

const killLab = `
name: k
networks:
  - {name: n1, subnet: 10.5.1.0/24, hostAccess: {address: 10.5.1.1}}
  - {name: n2, subnet: 10.5.2.0/24}
nodes:
  - {name: a, kind: host, interfaces: [{network: n1, address: 10.5.1.10}, {network: n2, address: 10.5.2.10}],
     host: {services: [{name: s, command: [sleep, "%s"]}]}}
  - {name: b, kind: host, interfaces: [{network: n1, address: 10.5.1.11}]}
  - {name: c, kind: host, interfaces: [{network: n1, address: 10.5.1.12}]}
  - {name: d, kind: host, interfaces: [{network: n2, address: 10.5.2.13}]}
  - {name: e, kind: host, interfaces: [{network: n2, address: 10.5.2.14}]}
  - {name: f, kind: host, interfaces: [{network: n2, address: 10.5.2.15}],
     host: {services: [{name: s, command: [sleep, "%s"]}]}}
`

func journalLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n
}

// onp up killed with SIGKILL at any point: onp down afterwards leaves no
// namespace, link, bridge, process or mount behind — also when the lab
// directory (journal, lab file) is gone too.
func TestKillUpAnywhereThenDown(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "sleep", "coreutils")
	home := t.TempDir()
	marker := fmt.Sprint(200000 + os.Getpid()%700000)
	file := filepath.Join(t.TempDir(), "kill.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(killLab, marker, marker)), 0o644)
	name := testutil.RandName("k", 6)
	journal := filepath.Join(home, "labs", name, lab.JournalFile)

	// A full run tells how many journal entries up writes.
	if r := onp(t, home, "up", "-f", file, "--name", name); r.code != 0 {
		t.Fatalf("up: %+v", r)
	}
	total := journalLines(journal)
	if total < 15 {
		t.Fatalf("only %d journal entries", total)
	}
	if r := onp(t, home, "down", name); r.code != 0 {
		t.Fatalf("down: %+v", r)
	}
	for k := 0; k <= total; k++ {
		for _, dropDir := range []bool{false, true} {
			if dropDir && k%3 != 1 {
				continue
			}
			cmd := exec.Command(os.Args[0], "--home", home, "up", "-f", file, "--name", name)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			finished := false
			if k > 0 {
				deadline := time.Now().Add(10 * time.Second)
				for journalLines(journal) < k && time.Now().Before(deadline) && !finished {
					select {
					case <-waited:
						finished = true
					default:
						time.Sleep(200 * time.Microsecond)
					}
				}
			}
			if !finished {
				cmd.Process.Signal(syscall.SIGKILL)
				<-waited
			}
			if dropDir {
				os.RemoveAll(filepath.Join(home, "labs", name))
			}
			if r := onp(t, home, "down", name); r.code != 0 {
				t.Fatalf("k=%d: down after kill: %+v", k, r)
			}
			assertNothingLeft(t, name, marker, fmt.Sprintf("killed after journal entry %d (lab dir removed: %v)", k, dropDir))
		}
	}
}

func assertNothingLeft(t *testing.T, name, marker, when string) {
	t.Helper()
	all, _ := nsx.List()
	for _, ns := range all {
		if strings.HasPrefix(ns, topology.FabricNamespace(name)) {
			t.Errorf("%s: namespace %s left", when, ns)
		}
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Alias, "onp/"+name+"/") || l.Attrs().Name == topology.HostLinkName(name, "n1") {
			t.Errorf("%s: link %s left", when, l.Attrs().Name)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), "/run/netns/"+topology.FabricNamespace(name)) {
		t.Errorf("%s: netns mount left", when)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && (bytes.Contains(b, []byte("\x00"+marker+"\x00")) || bytes.Contains(b, []byte("/labs/"+name+"\x00"))) {
			if st, _ := os.ReadFile("/proc/" + e.Name() + "/stat"); !bytes.Contains(st, []byte(") Z ")) {
				t.Errorf("%s: process %s left: %q", when, e.Name(), b)
			}
		}
	}
}
