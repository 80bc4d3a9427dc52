package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/onp-lab/onp/diagnose"
)

func recorded(t *testing.T, name string) *diagnose.Evidence {
	t.Helper()
	b, err := os.ReadFile("../../diagnose/testdata/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var ev diagnose.Evidence
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

// onp diagnose's text: the cause, the fix, the evidence and the rule of
// thumb; a healthy lab says so with its evidence.
func TestWriteDiagnosis(t *testing.T) {
	ev := recorded(t, "as-mismatch-router")
	rep := diagnose.Diagnose(ev, "")
	rep.Evidence = ev
	var b bytes.Buffer
	writeDiagnosis(&b, rep, false, false)
	out := b.String()
	for _, want := range []string{
		"DIAGNOSIS lab ", "sno4 ↔ vyos",
		"CAUSE 1: AS mismatch (as-mismatch) — sno4 ↔ vyos, at vyos",
		"FIX\n  on vyos (onp ssh vyos): configure; set protocols bgp 64512 neighbor 192.168.126.2 remote-as 64512; commit; save",
		"EVIDENCE\n", "vyos (FRR): router bgp 64512, neighbor 192.168.126.2 remote-as 64513",
		"RULE OF THUMB\n  points at Idle: stuck in Idle",
		"follows it: yes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	ev = recorded(t, "TestHealthy")
	rep = diagnose.Diagnose(ev, "")
	writeDiagnosis(&b, rep, false, true)
	if out := b.String(); !strings.Contains(out, "HEALTHY every session is Established") || !strings.Contains(out, "HTTP 200") || !strings.Contains(out, "SESSIONS\n") {
		t.Errorf("healthy:\n%s", out)
	}
}

// onp bgp's table: one row per end, the two ends of a session adjacent.
func TestWriteSessions(t *testing.T) {
	ev := recorded(t, "as-mismatch-router")
	var b bytes.Buffer
	writeSessions(&b, diagnose.SessionsOf(ev, ""))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SESSION") || !strings.HasPrefix(lines[1], "sno4 ↔ vyos  sno4  speaker (onp-bgp-peer)") || !strings.Contains(lines[2], "vyos  router") {
		t.Fatalf("table:\n%s", b.String())
	}
	if !strings.Contains(lines[1], "192.168.126.3 AS64512") || !strings.Contains(lines[1], "2/2 OPEN Message Error / Bad Peer AS") || !strings.Contains(lines[2], "AS64513") {
		t.Errorf("rows:\n%s", b.String())
	}
}
