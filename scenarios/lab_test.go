package scenarios_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/onp-lab/onp/scenarios"
)

func TestBuiltinFRREBGP(t *testing.T) {
	m := manager(t)
	sc, err := scenarios.Builtin("frr-ebgp")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep := &scenarios.TextReporter{W: &out}
	s := scenarios.RunScenario(context.Background(), sc, scenarios.RunOptions{Manager: m, Observer: rep})
	rep.SuiteDone(s)
	t.Logf("\n%s", out.String())
	if s.Status != scenarios.Pass {
		t.Fatalf("scenario %s: %s", s.Name, s.Status)
	}
}

func TestBuiltinSeedFRRSpeaker(t *testing.T) {
	m := manager(t)
	sc, err := scenarios.Builtin("seed-frr-speaker")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep := &scenarios.TextReporter{W: &out}
	s := scenarios.RunScenario(context.Background(), sc, scenarios.RunOptions{Manager: m, Observer: rep})
	rep.SuiteDone(s)
	t.Logf("\n%s", out.String())
	if s.Status != scenarios.Pass {
		t.Fatalf("scenario %s: %s", s.Name, s.Status)
	}
}
