package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/exercises"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/internal/yamlx"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/topology"
)

// onpx runs the CLI in-process like onp() does, with stdin, and with the
// exercise and workshop commands registered even before main.go lists
// them.
func onpx(t *testing.T, home, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, stdin: strings.NewReader(stdin)}
	root := a.rootCommand()
	have := map[string]bool{}
	for _, c := range root.Commands() {
		have[c.Name()] = true
	}
	if !have["exercise"] {
		root.AddCommand(a.exerciseCommand())
	}
	if !have["workshop"] {
		root.AddCommand(a.workshopCommand())
	}
	root.SetArgs(append([]string{"--home", home}, args...))
	root.SetIn(a.stdin)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		var el yamlx.ErrorList
		switch {
		case errors.As(err, &ee):
			code = ee.code
		case errors.As(err, &el):
			code = 2
		}
		if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") {
			code = 2
		}
		if ee == nil || ee.err != nil {
			fmt.Fprintln(&errb, "error: "+err.Error())
		}
	}
	return result{code, out.String(), errb.String()}
}

// exHome is a state directory with a short path: the labs' unix socket
// paths must stay short.
func exHome(t *testing.T) string {
	home, err := os.MkdirTemp("", "onpx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	return home
}

func TestExerciseListShowValidate(t *testing.T) {
	home := t.TempDir()
	r := onpx(t, home, "", "exercise", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "asn-mismatch ") || !strings.Contains(r.stdout, "vyos14-no-ipv4-unicast") || strings.Count(r.stdout, "\n") < 21 {
		t.Fatalf("list: %+v", r)
	}
	r = onpx(t, home, "", "exercise", "list", "--causes")
	if r.code != 0 || !strings.Contains(r.stdout, "TCP 179 rejected") {
		t.Fatalf("list --causes: %+v", r)
	}
	r = onpx(t, home, "", "exercise", "list", "-o", "json")
	var infos []exercises.Info
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &infos) != nil || len(infos) < 20 {
		t.Fatalf("list json: %+v", r)
	}
	r = onpx(t, home, "", "exercise", "show", "asn-mismatch")
	src, _ := exercises.BuiltinSource("asn-mismatch")
	if r.code != 0 || r.stdout != string(src) {
		t.Fatalf("show: %+v", r)
	}
	r = onpx(t, home, "", "exercise", "validate", "asn-mismatch", "ebgp-multihop")
	if r.code != 0 || !strings.Contains(r.stdout, "builtin:ebgp-multihop: valid (exercise ebgp-multihop, lab multihop: 4 nodes; 3 setup steps, 1 break steps, 3 hints, 4 checks)") {
		t.Fatalf("validate: %+v", r)
	}
	// Unknown names: a clear list of the valid ones, exit code 2, for
	// every command that takes a name.
	for _, args := range [][]string{
		{"exercise", "start", "asn-mismatc"},
		{"exercise", "show", "nope"},
		{"exercise", "validate", "nope"},
		{"exercise", "reset", "nope"},
		{"workshop", "up", "--students", "2", "--exercise", "nope"},
	} {
		r = onpx(t, home, "", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "is not a built-in exercise (exercises: asn-mismatch, asn-mismatch-speaker, bfd-one-side, ebgp-multihop, hold-time,") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	// Commands on a lab that runs no exercise say so.
	r = onpx(t, home, "", "exercise", "hint", "--lab", "nolab")
	if r.code != 1 || !strings.Contains(r.stderr, `no such lab "nolab"`) {
		t.Errorf("hint without a lab: %+v", r)
	}
	r = onpx(t, home, "", "workshop", "status", "--name", "nows")
	if r.code != 1 || !strings.Contains(r.stderr, `no workshop "nows" (create it with onp workshop up --students N)`) {
		t.Errorf("status of no workshop: %+v", r)
	}
	r = onpx(t, home, "", "workshop", "up", "--students", "0")
	if r.code != 2 || !strings.Contains(r.stderr, "give --students N, from 1 to 200") {
		t.Errorf("no students: %+v", r)
	}
}

// applySolution carries out an exercise's solution the way a student does:
// the printed onp commands, run through the CLI (onp apply -f -, onp exec,
// onp vyos configure, onp delete), and the typed lines of an onp ssh
// session typed into the router's interactive CLI over SSH.
func applySolution(t *testing.T, home, labName string, ex *exercises.Exercise) {
	t.Helper()
	for _, c := range exercises.Commands(labName, ex.Solution.Steps) {
		switch {
		case c.Wait > 0:
			time.Sleep(c.Wait) // a wait the solution itself prescribes
		case len(c.Typed) > 0:
			if len(c.Args) < 3 || c.Args[0] != "ssh" {
				t.Fatalf("typed lines for %q", c.Line())
			}
			m := &lab.Manager{Paths: lab.Paths{Home: home}}
			l, err := m.Load(labName)
			if err != nil {
				t.Fatal(err)
			}
			node := c.Args[len(c.Args)-1]
			cl, err := kinds.DialRouter(context.Background(), l, l.Topology.Node(node))
			if err != nil {
				t.Fatalf("%s: %v", c.Line(), err)
			}
			lines := c.Typed
			if lines[len(lines)-1] == "exit" {
				lines = lines[:len(lines)-1] // TypeLines logs out itself
			}
			out, err := scenarios.TypeLines(context.Background(), cl.SSH(), lines)
			cl.Close()
			if err != nil {
				t.Fatalf("%s, typing %q: %v\n%s", c.Line(), lines, err, out)
			}
		default:
			if r := onpx(t, home, c.Stdin, c.Args...); r.code != 0 {
				t.Fatalf("%s: %+v", c.Line(), r)
			}
		}
	}
}

// Every built-in exercise really breaks its lab and is really fixed by its
// solution: start → the checks fail → the solution's commands, as a
// student types them → the checks pass.
func TestExerciseRoundTrips(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	testutil.RequireBinary(t, "nft", "nftables")
	testutil.RequireBinary(t, "ip", "iproute2")
	home := exHome(t)
	for _, info := range exercises.Builtins() {
		t.Run(info.Name, func(t *testing.T) {
			t.Parallel()
			ex, err := exercises.Builtin(info.Name)
			if err != nil {
				t.Fatal(err)
			}
			name := testutil.RandName("x", 6)
			t.Cleanup(func() { onpx(t, home, "", "down", name) })
			start := time.Now()
			r := onpx(t, home, "", "exercise", "start", info.Name, "--lab", name)
			if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("Exercise %s is ready in lab %s", info.Name, name)) ||
				!strings.Contains(r.stdout, strings.SplitN(strings.TrimSpace(ex.Instructions), "\n", 2)[0]) {
				t.Fatalf("start: %+v", r)
			}
			started := time.Since(start)
			r = onpx(t, home, "", "exercise", "check", "--lab", name, "--wait", "2s")
			if r.code != 1 || !strings.Contains(r.stdout, "[NOT YET]") || !strings.Contains(r.stdout, "[FAIL]") {
				t.Fatalf("check of the broken lab: want exit 1 and FAIL lines: %+v", r)
			}
			applySolution(t, home, name, ex)
			fixed := time.Now()
			r = onpx(t, home, "", "exercise", "check", "--lab", name)
			if r.code != 0 || !strings.Contains(r.stdout, "[SOLVED]") || strings.Contains(r.stdout, "[FAIL]") {
				t.Fatalf("check after the solution: want exit 0: %+v", r)
			}
			t.Logf("started in %s, graded PASS %s after the fix", started.Round(time.Millisecond), time.Since(fixed).Round(time.Millisecond))
		})
	}
}

// One exercise through every command: hints one at a time and remembered,
// the solution, JSON grading, reset keeps the hints and breaks the lab
// again, start refuses a lab that runs an exercise or has another shape.
func TestExerciseCommands(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	home := exHome(t)
	name := testutil.RandName("x", 6)
	t.Cleanup(func() { onpx(t, home, "", "down", name) })
	if r := onpx(t, home, "", "up", "--name", name); r.code != 0 {
		t.Fatalf("up: %+v", r)
	}
	// A running reference lab is used as it is.
	r := onpx(t, home, "", "exercise", "start", "neighbor-shutdown", "--lab", name)
	if r.code != 0 || strings.Contains(r.stderr, "Creating nodes") || !strings.Contains(r.stderr, "Breaking the lab") {
		t.Fatalf("start on a running lab: %+v", r)
	}
	r = onpx(t, home, "", "exercise", "start", "asn-mismatch", "--lab", name)
	if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("lab %s already runs exercise neighbor-shutdown", name)) {
		t.Fatalf("second start: %+v", r)
	}
	for i := 1; i <= 3; i++ {
		r = onpx(t, home, "", "exercise", "hint", "--lab", name)
		if r.code != 0 || strings.Count(r.stdout, "Hint ") != i || !strings.Contains(r.stdout, fmt.Sprintf("Hint %d of 3:", i)) {
			t.Fatalf("hint %d: %+v", i, r)
		}
	}
	r = onpx(t, home, "", "exercise", "hint", "--lab", name)
	if r.code != 0 || strings.Count(r.stdout, "Hint ") != 3 || !strings.Contains(r.stdout, "That was the last hint.") {
		t.Fatalf("hint after the last: %+v", r)
	}
	r = onpx(t, home, "", "exercise", "solution", "--lab", name)
	if r.code != 0 || !strings.Contains(r.stdout, "Administrative Shutdown") ||
		!strings.Contains(r.stdout, fmt.Sprintf("$ onp ssh --lab %s vyos\n    vyos@vyos:~$ configure\n    vyos@vyos# delete protocols bgp 64512 neighbor 192.168.126.2 shutdown\n    vyos@vyos# commit\n", name)) {
		t.Fatalf("solution: %+v", r)
	}
	r = onpx(t, home, "", "exercise", "check", "--lab", name, "--wait", "0s", "-o", "json")
	var g exercises.Grading
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &g) != nil || g.Exercise != "neighbor-shutdown" || g.Summary.Failed == 0 || len(g.Checks) != 5 {
		t.Fatalf("check -o json: %+v", r)
	}
	r = onpx(t, home, "", "exercise", "reset", "--lab", name)
	if r.code != 0 || !strings.Contains(r.stdout, "Exercise neighbor-shutdown is ready") {
		t.Fatalf("reset: %+v", r)
	}
	st, err := exercises.ReadState(filepath.Join(home, "labs", name))
	if err != nil || st.HintsShown != 3 || !st.SolutionShown || st.Resets != 1 {
		t.Fatalf("state after reset: %+v %v", st, err)
	}
	// The lab of another exercise's shape is refused.
	onpx(t, home, "", "down", name)
	if r := onpx(t, home, "", "up", "routed-hosts", "--name", name); r.code != 0 {
		t.Fatalf("up routed-hosts: %+v", r)
	}
	r = onpx(t, home, "", "exercise", "start", "asn-mismatch", "--lab", name)
	if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("lab %s is not the lab of exercise asn-mismatch: it has no network sno0", name)) {
		t.Fatalf("start on another lab: %+v", r)
	}
}

// An exercise file of one's own, relative files included.
func TestExerciseFromFile(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	home := exHome(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "svc.yaml"), []byte("apiVersion: v1\nkind: Service\nmetadata: {name: echoserver, namespace: onp-metallb}\nspec:\n  type: LoadBalancer\n  selector: {app: echoserver}\n  ports: [{port: 8080, targetPort: 8081, protocol: TCP}]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "fixed.yaml"), []byte("apiVersion: v1\nkind: Service\nmetadata: {name: echoserver, namespace: onp-metallb}\nspec:\n  type: LoadBalancer\n  selector: {app: echoserver}\n  ports: [{port: 8080, targetPort: 8080, protocol: TCP}]\n"), 0o644)
	file := filepath.Join(dir, "mine.yaml")
	os.WriteFile(file, []byte(`name: wrong-target-port
description: The route is there, the page is not.
lab: sno-bgp
break:
  - apply: {file: svc.yaml}
instructions: The client gets no page from http://10.0.0.10:8080/. Why?
hints: [Compare the Service's targetPort with the pod's containerPort.]
solution:
  text: The Service sends to port 8081, the echoserver listens on 8080.
  steps:
    - apply: {file: fixed.yaml}
checks:
  - {name: http, type: http, node: client, url: "http://10.0.0.10:8080/", bodyContains: "Hostname: echoserver", wait: 5s}
`), 0o644)
	name := testutil.RandName("x", 6)
	t.Cleanup(func() { onpx(t, home, "", "down", name) })
	r := onpx(t, home, "", "exercise", "start", file, "--lab", name)
	if r.code != 0 || !strings.Contains(r.stdout, "Exercise wrong-target-port is ready") {
		t.Fatalf("start: %+v", r)
	}
	ex, err := exercises.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	applySolution(t, home, name, ex)
	if r := onpx(t, home, "", "exercise", "check", "--lab", name); r.code != 0 {
		t.Fatalf("check: %+v", r)
	}
}

// A workshop of ten students: every lab up with the exercise, the labs
// isolated from each other although their addresses are the same, every
// student graded, one student's fix seen in the status, and nothing left
// after down.
func TestWorkshop(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "/usr/lib/frr/bgpd", "frr")
	home := exHome(t)
	ws := testutil.RandName("w", 4)
	t.Cleanup(func() { onpx(t, home, "", "workshop", "down", "--name", ws) })
	start := time.Now()
	r := onpx(t, home, "", "workshop", "up", "--students", "10", "--exercise", "asn-mismatch", "--name", ws)
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("Workshop %s: 10 labs (%s-s01 … %s-s10) with exercise asn-mismatch", ws, ws, ws)) {
		t.Fatalf("workshop up: %+v", r)
	}
	t.Logf("10 students up in %s", time.Since(start).Round(time.Millisecond))
	r = onpx(t, home, "", "workshop", "up", "--students", "2", "--name", ws)
	if r.code != 1 || !strings.Contains(r.stderr, fmt.Sprintf("workshop %s exists", ws)) {
		t.Fatalf("second up: %+v", r)
	}
	s := func(i int) string { return fmt.Sprintf("%s-s%02d", ws, i) }

	// Isolation: the same address, 192.168.100.10:7777, answers in
	// student 1's and student 2's client with different words; each
	// router reaches its own lab's listener only, and once student 1's
	// listener is gone nothing answers there.
	listen := func(l string) net.Listener {
		var ln net.Listener
		if err := nsx.Do(nsx.Path(topology.NodeNamespace(l, "client")), func() error {
			var err error
			ln, err = net.Listen("tcp", "192.168.100.10:7777")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, l+"\n")
				c.Close()
			}
		}()
		return ln
	}
	dialFrom := func(l string) (string, error) {
		var c net.Conn
		err := nsx.Do(nsx.Path(topology.NodeNamespace(l, "vyos")), func() error {
			var err error
			c, err = net.DialTimeout("tcp", "192.168.100.10:7777", 2*time.Second)
			return err
		})
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line), err
	}
	ln1, ln2 := listen(s(1)), listen(s(2))
	defer ln2.Close()
	for _, l := range []string{s(1), s(2)} {
		if got, err := dialFrom(l); err != nil || got != l {
			t.Fatalf("from %s's router: %q, %v; want its own lab's answer", l, got, err)
		}
	}
	ln1.Close()
	if got, err := dialFrom(s(1)); err == nil || !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("from %s's router with only %s listening: %q, %v; want connection refused", s(1), s(2), got, err)
	}
	// ARP: student 1's router learnt student 1's client, never student 2's.
	mac := func(l, node, ifname string) string {
		var h *netlink.Handle
		nsx.Do(nsx.Path(topology.NodeNamespace(l, node)), func() error {
			var err error
			h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
			return err
		})
		if h == nil {
			t.Fatalf("no netlink handle in %s/%s", l, node)
		}
		defer h.Close()
		if ifname == "" {
			neighs, _ := h.NeighList(0, netlink.FAMILY_V4)
			for _, n := range neighs {
				if n.IP.String() == "192.168.100.10" {
					return n.HardwareAddr.String()
				}
			}
			return ""
		}
		link, err := h.LinkByName(ifname)
		if err != nil {
			t.Fatal(err)
		}
		return link.Attrs().HardwareAddr.String()
	}
	c1, c2, seen := mac(s(1), "client", "eth0"), mac(s(2), "client", "eth0"), mac(s(1), "vyos", "")
	if seen != c1 || seen == c2 {
		t.Fatalf("student 1's router has 192.168.100.10 at %s; its client is %s, student 2's %s", seen, c1, c2)
	}

	// Every student graded: all broken.
	r = onpx(t, home, "", "workshop", "status", "--name", ws, "-o", "json")
	var st struct {
		Students []exercises.StudentStatus `json:"students"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil || len(st.Students) != 10 {
		t.Fatalf("status: %+v", r)
	}
	for _, s := range st.Students {
		if !s.Up || s.Summary == nil || s.Summary.OK() || s.Summary.Failed == 0 || s.Exercise != "asn-mismatch" {
			t.Errorf("student %s: %+v", s.Lab, s)
		}
	}
	// Student 3 fixes it: the status says so, one line per student.
	ex, _ := exercises.Builtin("asn-mismatch")
	applySolution(t, home, s(3), ex)
	if r := onpx(t, home, "", "exercise", "check", "--lab", s(3)); r.code != 0 {
		t.Fatalf("student 3's check: %+v", r)
	}
	r = onpx(t, home, "", "workshop", "status", "--name", ws)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 13 || !strings.Contains(r.stdout, "1 of 10 students pass every check.") {
		t.Fatalf("status: %+v", r)
	}
	for _, l := range lines[1:11] {
		f := strings.Fields(l)
		want := "FAIL:"
		if f[0] == s(3) {
			want = "PASS"
		}
		if !strings.Contains(l, want) {
			t.Errorf("status line %q: want %s", l, want)
		}
	}

	r = onpx(t, home, "", "workshop", "down", "--name", ws)
	if r.code != 0 || !strings.Contains(r.stderr, fmt.Sprintf("workshop %s removed: 10 labs", ws)) {
		t.Fatalf("down: %+v", r)
	}
	for i := 1; i <= 10; i++ {
		assertNothingLeft(t, s(i), "onp-no-such-marker", "after workshop down")
	}
	if _, err := os.Stat(exercises.WorkshopDir(home, ws)); !os.IsNotExist(err) {
		t.Errorf("workshop directory left: %v", err)
	}
}

// docs/cli.md describes the exercise and workshop commands and their flags
// (TestDocsMatchCommands does the same for the commands main.go lists).
func TestExerciseDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	a := &app{}
	root := a.rootCommand()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !strings.Contains(string(doc), c.CommandPath()) {
			t.Errorf("docs/cli.md does not describe %q", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && !strings.Contains(string(doc), "--"+f.Name) {
				t.Errorf("docs/cli.md does not mention flag --%s of %s", f.Name, c.CommandPath())
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range []*cobra.Command{a.exerciseCommand(), a.workshopCommand()} {
		root.AddCommand(c)
		walk(c)
	}
}
