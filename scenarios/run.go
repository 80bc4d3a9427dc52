package scenarios

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios/format"
	"github.com/onp-lab/onp/scenarios/spec"
)

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// RunOptions say how RunScenario runs a scenario.
type RunOptions struct {
	// Manager builds and removes the lab.
	Manager *lab.Manager
	// LabName is the lab's name; empty means a fresh unique name.
	LabName string
	// Keep leaves the lab running afterwards.
	Keep bool
	// Observer is told about steps and checks as they run.
	Observer Observer
	// NewEnv makes the Env of the built lab; nil means NewLabEnv.
	NewEnv func(*lab.Manager, *lab.Lab) Env
	Logger *slog.Logger
	// Interval and AttemptTimeout tune the check runner (zero: defaults).
	Interval, AttemptTimeout time.Duration
	// OnLabUp is called once the lab is built (e.g. to print its name).
	OnLabUp func(*lab.Lab)
}

// RunScenario builds the scenario's lab under a unique name, runs its steps
// and final checks, and removes the lab unless Keep. A step that cannot be
// carried out stops the scenario: the remaining steps and checks are
// skipped. The lab is removed also when ctx is cancelled.
func RunScenario(ctx context.Context, sc *Scenario, o RunOptions) *Suite {
	name := o.LabName
	if name == "" {
		name = UniqueLabName(sc.Name)
	}
	s := &Suite{Name: sc.Name, Source: sc.Source, Lab: name, Started: time.Now()}
	obs := o.Observer
	if obs == nil {
		obs = NopObserver{}
	}
	skipAll := func(from int, why string) {
		for i := from; i < len(sc.Steps); i++ {
			st := &sc.Steps[i]
			s.Steps = append(s.Steps, StepResult{Index: i, Kind: st.Kind(), Title: st.Title(), Status: Skipped, Message: why})
		}
		for _, c := range sc.Checks {
			s.Checks = append(s.Checks, CheckResult{Name: c.Name, Type: c.Type, Title: c.Title(), Status: Skipped, Message: why, Check: c})
		}
	}
	l, err := o.Manager.Up(ctx, sc.Topology, lab.UpOptions{Name: name})
	if err != nil {
		s.Error = "build the lab: " + err.Error()
		skipAll(0, "skipped: the lab could not be built")
		s.finish()
		return s
	}
	if o.OnLabUp != nil {
		o.OnLabUp(l)
	}
	newEnv := o.NewEnv
	if newEnv == nil {
		newEnv = func(m *lab.Manager, l *lab.Lab) Env { return NewLabEnv(m, l) }
	}
	env := newEnv(o.Manager, l)
	runner := &Runner{Env: env, Observer: obs, Logger: o.Logger, Interval: o.Interval, AttemptTimeout: o.AttemptTimeout}
	stopped := false
	for i := range sc.Steps {
		st := &sc.Steps[i]
		if ctx.Err() != nil {
			skipAll(i, "skipped: interrupted")
			stopped = true
			break
		}
		obs.StepStarted(i, st.Kind(), st.Title())
		r := runStep(ctx, sc, i, st, env, runner)
		obs.StepDone(&r)
		s.Steps = append(s.Steps, r)
		if r.Kind != "check" && r.Status == Error {
			skipAll(i+1, fmt.Sprintf("skipped: step %d (%s) could not be carried out", i+1, st.Title()))
			stopped = true
			break
		}
	}
	if !stopped && len(sc.Checks) > 0 {
		if len(sc.Steps) > 0 {
			obs.StepStarted(len(sc.Steps), "checks", "final checks")
		}
		s.Checks = runner.Run(ctx, sc.Checks)
	}
	env.Close()
	if o.Keep {
		s.Kept = true
	} else if _, err := o.Manager.Down(context.WithoutCancel(ctx), name); err != nil {
		s.Error = strings.TrimPrefix(s.Error+"; ", "; ") + "remove the lab: " + err.Error()
	}
	s.finish()
	return s
}

// runStep carries out one step.
func runStep(ctx context.Context, sc *Scenario, i int, st *Step, env Env, runner *Runner) StepResult {
	start := time.Now()
	r := StepResult{Index: i, Kind: st.Kind(), Title: st.Title(), Status: Pass}
	finish := func(msg string, err error) StepResult {
		r.Duration = time.Since(start)
		r.Seconds = seconds(r.Duration)
		if err != nil {
			r.Status = Error
			if IsPermanent(err) && !strings.HasPrefix(err.Error(), "cannot run") {
				msg = "cannot run: " + err.Error()
			} else {
				msg = err.Error()
			}
		}
		r.Message = msg
		return r
	}
	switch {
	case st.Check != nil:
		r.Checks = runner.Run(ctx, st.Check)
		for _, c := range r.Checks {
			r.Status = worse(r.Status, c.Status)
		}
		return finish("", nil)
	case st.Wait != nil:
		t := time.NewTimer(st.Wait.D())
		defer t.Stop()
		select {
		case <-ctx.Done():
			return finish("", fmt.Errorf("interrupted: %w", ctx.Err()))
		case <-t.C:
			return finish("", nil)
		}
	case st.Apply != nil:
		cl, err := env.Cluster(ctx, st.Apply.Node)
		if err != nil {
			return finish("", err)
		}
		src := st.Apply.File
		if src == "" {
			src = fmt.Sprintf("%s: steps[%d].apply.manifests", sc.Source, i)
		}
		return finish("", cl.Apply(ctx, src, st.Data()))
	case st.Delete != nil:
		cl, err := env.Cluster(ctx, st.Delete.Node)
		if err != nil {
			return finish("", err)
		}
		return finish("", cl.Delete(ctx, st.Delete.Objects))
	case st.Router != nil:
		rc, err := env.RouterConfig(ctx, st.Router.Node)
		if err != nil {
			return finish("", err)
		}
		lines := st.Router.Commands
		if st.Router.File != "" {
			lines = strings.Split(string(st.Data()), "\n")
		}
		if st.Router.Typed {
			out, err := rc.Type(ctx, lines)
			if err == nil {
				return finish(fmt.Sprintf("typed %d lines", len(format.WrapConfigure(lines))), nil)
			}
			return finish("", fmt.Errorf("%w\n%s", err, lastLines(out, 8)))
		}
		cmds := format.ConfigLines(lines)
		_, err = rc.Configure(ctx, cmds, true)
		return finish(fmt.Sprintf("pushed %d commands, committed and saved", len(cmds)), err)
	case st.Fault != nil:
		return finish("", runFault(ctx, sc, st.Fault, env))
	case st.Exec != nil:
		ex, ok := env.(Execer)
		if !ok {
			return finish("", Unavailable("exec", "the nodes of this lab cannot run commands"))
		}
		res, err := ex.Exec(ctx, st.Exec.Node, st.Exec.Command, st.Exec.Stdin)
		if err != nil {
			return finish("", err)
		}
		out := strings.TrimSpace(res.Output)
		if res.ExitCode != 0 {
			return finish("", Permanent(fmt.Errorf("%s on %s exited with status %d: %s", st.Exec.Command[0], st.Exec.Node, res.ExitCode, lastLines(out, 8))))
		}
		if out == "" {
			out = "exit status 0"
		}
		return finish(lastLines(out, 4), nil)
	}
	return finish("", errors.New("empty step"))
}

// RunSteps carries out steps in a running lab, in order, as a scenario's
// steps run: a check step runs its checks, the other steps act on the lab.
// It stops at the first step other than a check step that cannot be
// carried out, and reports the steps after it as skipped. sc holds the
// files the steps came from (format.Parts.Scenario for documents that are
// not scenarios); its own steps and checks are not run.
func RunSteps(ctx context.Context, sc *Scenario, steps []Step, env Env, o RunOptions) []StepResult {
	obs := o.Observer
	if obs == nil {
		obs = NopObserver{}
	}
	runner := &Runner{Env: env, Observer: obs, Logger: o.Logger, Interval: o.Interval, AttemptTimeout: o.AttemptTimeout}
	var out []StepResult
	for i := range steps {
		st := &steps[i]
		if ctx.Err() != nil {
			for j := i; j < len(steps); j++ {
				out = append(out, StepResult{Index: j, Kind: steps[j].Kind(), Title: steps[j].Title(), Status: Skipped, Message: "skipped: interrupted"})
			}
			break
		}
		obs.StepStarted(i, st.Kind(), st.Title())
		r := runStep(ctx, sc, i, st, env, runner)
		obs.StepDone(&r)
		out = append(out, r)
		if r.Kind != "check" && r.Status == Error {
			for j := i + 1; j < len(steps); j++ {
				out = append(out, StepResult{Index: j, Kind: steps[j].Kind(), Title: steps[j].Title(), Status: Skipped,
					Message: fmt.Sprintf("skipped: step %d (%s) could not be carried out", i+1, st.Title())})
			}
			break
		}
	}
	return out
}

func runFault(ctx context.Context, sc *Scenario, f *FaultStep, env Env) error {
	fl := env.Faults()
	switch f.Action {
	case format.FaultLinkDown, format.FaultLinkUp:
		up := f.Action == format.FaultLinkUp
		if f.BridgePort != "" {
			return fl.SetBridgePort(ctx, f.BridgePort, up)
		}
		return fl.SetLink(ctx, f.Node, f.Interface, up)
	case format.FaultStop, format.FaultStart, format.FaultKill, format.FaultRestart:
		return fl.Service(ctx, f.Node, f.Service, f.Action)
	case format.FaultBlock, format.FaultUnblock:
		return fl.Block(ctx, f.Node, f.Protocol, f.Port, f.Action == format.FaultBlock)
	case format.FaultReject:
		r, ok := fl.(Rejecter)
		if !ok {
			return Unavailable("fault", "this lab cannot reject ports")
		}
		return r.Reject(ctx, f.Node, f.Protocol, f.Port)
	case format.FaultRouteDelete, format.FaultRouteAdd:
		r, ok := fl.(RouteFaults)
		if !ok {
			return Unavailable("fault", "this lab cannot change kernel routes")
		}
		to, err := format.RouteDestination(f.To)
		if err != nil {
			return Permanent(err)
		}
		var via netip.Addr
		if f.Via != "" {
			if via, err = netip.ParseAddr(f.Via); err != nil {
				return Permanent(fmt.Errorf("via %q is not an address", f.Via))
			}
		}
		return r.Route(ctx, f.Node, to, via, f.Action == format.FaultRouteAdd)
	case format.FaultRestartRouter:
		n := env.Context().Node(f.Node)
		if n == nil {
			return Permanent(fmt.Errorf("unknown node %q", f.Node))
		}
		svc := format.RouterService(n.Kind)
		if svc == "" {
			return Permanent(fmt.Errorf("node %s is a %s node, not a router", f.Node, n.Kind))
		}
		return fl.Service(ctx, f.Node, svc, format.FaultRestart)
	}
	return Permanent(fmt.Errorf("unknown fault action %q", f.Action))
}

// RunChecks runs a running lab's checks (or the given ones) as one suite.
func RunChecks(ctx context.Context, env Env, labName, source string, checks []spec.Check, o RunOptions) *Suite {
	s := &Suite{Name: "checks", Source: source, Lab: labName, Started: time.Now()}
	runner := &Runner{Env: env, Observer: o.Observer, Logger: o.Logger, Interval: o.Interval, AttemptTimeout: o.AttemptTimeout}
	s.Checks = runner.Run(ctx, checks)
	s.finish()
	return s
}
