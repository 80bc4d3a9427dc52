package diagnose_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onp-lab/onp/diagnose"
	"github.com/onp-lab/onp/internal/testutil"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/topology"
)

// onp bgp's data: both ends of the reference session, adjacent; -w's
// transitions after the router's remote-as changes (speaker's exact, from
// its history; FRR's by polling).
func TestSessionsAndWatch(t *testing.T) {
	t.Parallel()
	f := startLab(t, "", nil)
	ctx := context.Background()
	ss, err := diagnose.Sessions(ctx, f.env, diagnose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || ss[0].Name != "sno4 ↔ vyos" || len(ss[0].Ends) != 2 {
		t.Fatalf("sessions: %+v", ss)
	}
	sp, rt := ss[0].Ends[0], ss[0].Ends[1]
	if sp.Role != "speaker" || sp.Name != "onp-bgp-peer" || sp.State != "Established" || sp.LocalAddress != "192.168.126.2" || sp.PeerAS != 64512 || sp.PrefixesSent != 1 {
		t.Errorf("speaker end: %+v", sp)
	}
	if rt.Role != "router" || rt.Node != "vyos" || rt.State != "Established" || rt.PeerAddress != "192.168.126.2" || rt.PrefixesReceived != 1 {
		t.Errorf("router end: %+v", rt)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var changes []diagnose.Change
	done := make(chan error, 1)
	go func() {
		done <- diagnose.Watch(wctx, f.env, diagnose.Options{}, 0, func(c diagnose.Change) error {
			mu.Lock()
			changes = append(changes, c)
			mu.Unlock()
			return nil
		})
	}()
	// The watch reports the initial states first.
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(changes) < 2 || changes[0].From != "" || changes[1].From != "" {
			return fmt.Errorf("initial states: %+v", changes)
		}
		return nil
	})
	f.router("set protocols bgp 64512 neighbor 192.168.126.2 remote-as 64513")
	testutil.Eventually(t, 15*time.Second, 200*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		var speakerDown, routerDown, retried bool
		for _, c := range changes {
			speakerDown = speakerDown || c.Role == "speaker" && c.From == "Established" && c.Exact
			routerDown = routerDown || c.Role == "router" && c.From == "Established" && c.Node == "vyos" && !c.Exact
			retried = retried || c.Role == "speaker" && c.From == "OpenSent" && c.Exact
		}
		if !speakerDown || !routerDown || !retried {
			return fmt.Errorf("changes so far: %+v", changes)
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ss, err = diagnose.Sessions(ctx, f.env, diagnose.Options{Peer: "vyos"})
	if err != nil || len(ss) != 1 {
		t.Fatalf("%v %+v", err, ss)
	}
	sp, rt = ss[0].Ends[0], ss[0].Ends[1]
	if rt.PeerAS != 64513 || rt.State == "Established" {
		t.Errorf("router end after the change: %+v", rt)
	}
	if n := sp.LastNotification; n == nil || n.Code != 2 || n.Subcode != 2 || n.Name != "OPEN Message Error / Bad Peer AS" {
		t.Errorf("speaker end's last NOTIFICATION: %+v", sp.LastNotification)
	}
}

const routersLab = `
name: %s
networks:
  - {name: sno0, subnet: 192.168.126.0/24}
nodes:
  - name: vyos
    kind: vyos
    interfaces: [{network: sno0, address: 192.168.126.3}]
    vyos:
      config:
        - set protocols bgp 64512 parameters router-id 192.168.126.3
        - set protocols bgp 64512 neighbor 192.168.126.2 remote-as 64512
        - set protocols bgp 64512 neighbor 192.168.126.4 remote-as 65004
        - set protocols bgp 64512 neighbor 192.168.126.4 timers connect 1
  - name: f1
    kind: frr
    interfaces: [{network: sno0, address: 192.168.126.2}]
    frr:
      config: |
        router bgp 64512
         bgp router-id 192.168.126.2
         neighbor 192.168.126.3 remote-as 64512
         neighbor 192.168.126.3 timers connect 1
        exit
  - name: b1
    kind: bird
    interfaces: [{network: sno0, address: 192.168.126.4}]
    bird:
      config: |
        router id 192.168.126.4;
        protocol device { scan time 10; }
        protocol bgp vyos {
          local 192.168.126.4 as 65004;
          neighbor 192.168.126.3 as 64512;
          connect delay time 1; connect retry time 1; error wait time 1, 10;
          ipv4 { import all; export none; };
        }
`

// Sessions between routers: FRR ↔ FRR and FRR ↔ BIRD, both ends each.
func TestSessionsBetweenRouters(t *testing.T) {
	t.Parallel()
	testutil.RequireBinary(t, "/usr/sbin/bird", "bird2")
	m := manager(t)
	m.Kinds["bird"] = birdKind()
	name := testutil.RandName("r", 5)
	top, err := topology.Parse("lab.yaml", []byte(fmt.Sprintf(routersLab, name)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m.Up(ctx, top, lab.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Down(context.Background(), name) })
	l, err := m.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	env := scenarios.NewLabEnv(m, l)
	defer env.Close()
	testutil.Eventually(t, 30*time.Second, 250*time.Millisecond, func() error {
		ss, err := diagnose.Sessions(ctx, env, diagnose.Options{})
		if err != nil {
			return err
		}
		got := map[string]string{}
		for _, s := range ss {
			var states []string
			for _, e := range s.Ends {
				states = append(states, e.Node+"="+e.State)
			}
			got[s.Name] = strings.Join(states, ",")
		}
		want := map[string]string{
			"f1 ↔ vyos": "f1=Established,vyos=Established",
			"b1 ↔ vyos": "b1=Established,vyos=Established",
		}
		for k, v := range want {
			if got[k] != v && got[reverse(k)] != reverseStates(v) {
				return fmt.Errorf("sessions %v, want %v", got, want)
			}
		}
		return nil
	})
	rep, err := diagnose.Run(ctx, env, diagnose.Options{Capture: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy || len(rep.Sessions) != 2 {
		t.Errorf("router sessions: %v\n%s", rep.Causes(), text(rep))
	}
}

func reverse(name string) string {
	a, b, _ := strings.Cut(name, " ↔ ")
	return b + " ↔ " + a
}

func reverseStates(s string) string {
	a, b, _ := strings.Cut(s, ",")
	return b + "," + a
}
