package exercises

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/scenarios/spec"
	"github.com/onp-lab/onp/topology"
)

// StateFile is the file in a lab's directory that says which exercise the
// lab runs and how far the student got; it goes away with the lab.
const StateFile = "exercise.json"

// State is an exercise in progress in a lab.
type State struct {
	Exercise string `json:"exercise"`
	// Source is builtin:NAME or the exercise file's absolute path.
	Source  string    `json:"source"`
	Lab     string    `json:"lab"`
	Started time.Time `json:"started"`
	// Resets counts onp exercise reset.
	Resets int `json:"resets,omitempty"`
	// HintsShown is how many hints the student has seen.
	HintsShown    int  `json:"hintsShown"`
	SolutionShown bool `json:"solutionShown,omitempty"`
	// LastCheck is the last grading (onp exercise check).
	LastCheck *Summary `json:"lastCheck,omitempty"`
	// Solved is when a grading first passed.
	Solved *time.Time `json:"solved,omitempty"`
}

// Summary counts the results of a grading.
type Summary struct {
	At      time.Time `json:"at"`
	Passed  int       `json:"passed"`
	Failed  int       `json:"failed"`
	Errors  int       `json:"errors"`
	Failing []string  `json:"failing,omitempty"`
}

// OK is true when every check passed.
func (s *Summary) OK() bool { return s.Failed == 0 && s.Errors == 0 && s.Passed > 0 }

// ErrNoExercise is returned (wrapped) for a lab that runs no exercise.
var ErrNoExercise = errors.New("no exercise")

// ReadState reads the exercise state of the lab in dir.
func ReadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w in lab %s", ErrNoExercise, filepath.Base(dir))
		}
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	return &s, nil
}

// Save writes the state into the lab directory dir (atomically: a reader
// never sees half a file).
func (s *State) Save(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, StateFile))
}

// Options say how exercises run.
type Options struct {
	// Manager builds, loads and removes labs.
	Manager *lab.Manager
	Logger  *slog.Logger
	// Progress hears about phases (building, checking, breaking); nil is
	// quiet.
	Progress lab.Progress
	// Observer hears about the steps as they run; nil is quiet.
	Observer scenarios.Observer
	// BreakTimeout bounds how long Start waits for a check to fail after
	// the break steps (default 30 s).
	BreakTimeout time.Duration
	// Interval is the pause between attempts of a check (zero: 1 s).
	Interval time.Duration
}

func (o *Options) phase(msg string, fn func() error) error {
	if o.Progress == nil {
		return fn()
	}
	end := o.Progress.Phase(msg)
	err := fn()
	end(err)
	return err
}

// Start makes an exercise ready in a lab: it builds the lab (or takes the
// running lab of that name when it has the exercise's shape and runs no
// exercise yet), runs the setup steps, checks that every grading check
// passes, runs the break steps, and waits until a grading check fails. The
// state it saves in the lab directory starts the hint count.
func Start(ctx context.Context, ex *Exercise, labName string, o Options) (*State, error) {
	m := o.Manager
	var l *lab.Lab
	if _, err := m.ReadMeta(labName); err == nil {
		if st, err := ReadState(m.Paths.LabDir(labName)); err == nil {
			return nil, fmt.Errorf("lab %s already runs exercise %s (started %s): start it over with onp exercise reset --lab %s, or remove the lab (onp down %s) to start another",
				labName, st.Exercise, st.Started.Local().Format("15:04:05"), labName, labName)
		}
		if l, err = m.Load(labName); err != nil {
			return nil, err
		}
		if err := SameShape(l.Topology, ex.Topology); err != nil {
			return nil, fmt.Errorf("lab %s is not the lab of exercise %s: %w; remove it (onp down %s) or pick another lab with --lab", labName, ex.Name, err, labName)
		}
	} else {
		var err error
		if l, err = m.Up(ctx, ex.Topology, lab.UpOptions{Name: labName}); err != nil {
			return nil, err
		}
	}
	if err := prepare(ctx, ex, l, o); err != nil {
		return nil, fmt.Errorf("%w (the lab %s is left running: explore it, or remove it with onp down %s)", err, labName, labName)
	}
	st := &State{Exercise: ex.Name, Source: ex.Source, Lab: labName, Started: time.Now().UTC()}
	if err := st.Save(l.Dir); err != nil {
		return nil, err
	}
	return st, nil
}

// prepare runs setup, makes sure the lab is healthy, breaks it and
// confirms the break.
func prepare(ctx context.Context, ex *Exercise, l *lab.Lab, o Options) error {
	env := scenarios.NewLabEnv(o.Manager, l)
	env.Logger = o.Logger
	defer env.Close()
	ro := scenarios.RunOptions{Observer: o.Observer, Logger: o.Logger, Interval: o.Interval}
	checks := ex.GradingChecks()
	if len(ex.Setup) > 0 {
		if err := o.phase(fmt.Sprintf("Setting up the lab (%d steps)", len(ex.Setup)), func() error {
			return stepsError("set up the lab", scenarios.RunSteps(ctx, ex.Scenario(), ex.Setup, env, ro))
		}); err != nil {
			return err
		}
	}
	if err := o.phase(fmt.Sprintf("Checking that the lab works (%d checks)", len(checks)), func() error {
		rs := Grade(ctx, env, checks, -1, o)
		if s := Summarize(rs); !s.OK() {
			return fmt.Errorf("the lab does not work before the fault, so the exercise cannot start: %s", failures(rs))
		}
		return nil
	}); err != nil {
		return err
	}
	if err := o.phase(fmt.Sprintf("Breaking the lab (%d steps)", len(ex.Break)), func() error {
		return stepsError("break the lab", scenarios.RunSteps(ctx, ex.Scenario(), ex.Break, env, ro))
	}); err != nil {
		return err
	}
	timeout := o.BreakTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return o.phase("Confirming that a check fails now", func() error {
		deadline := time.Now().Add(timeout)
		for {
			rs := Grade(ctx, env, checks, 0, o)
			if !Summarize(rs).OK() {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the break steps did not break the lab: every check still passes after %s (check the exercise's break: steps and checks:)", timeout)
			}
			t := time.NewTimer(o.interval())
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	})
}

func (o *Options) interval() time.Duration {
	if o.Interval > 0 {
		return o.Interval
	}
	return scenarios.DefaultInterval
}

// stepsError turns the first step that could not be carried out into an
// error.
func stepsError(what string, rs []scenarios.StepResult) error {
	for _, r := range rs {
		if r.Kind == "check" {
			if r.Status != scenarios.Pass {
				return fmt.Errorf("%s: step %d (%s): %s", what, r.Index+1, r.Title, failures(r.Checks))
			}
			continue
		}
		if r.Status == scenarios.Error {
			return fmt.Errorf("%s: step %d (%s): %s", what, r.Index+1, r.Title, r.Message)
		}
	}
	return nil
}

// failures describes the checks that did not pass.
func failures(rs []scenarios.CheckResult) string {
	var out []string
	for _, r := range rs {
		if r.Status == scenarios.Pass {
			continue
		}
		msg := r.Message
		for _, t := range r.Targets {
			if t.Status != scenarios.Pass {
				msg = t.Target + ": " + t.Message
				break
			}
		}
		out = append(out, fmt.Sprintf("[%s] %s", r.Label(), msg))
	}
	return strings.Join(out, "; ")
}

// Grade runs checks against a lab all at once, each retrying until its
// deadline; maxWait >= 0 caps every deadline (0: a single attempt each).
// The results come back in the checks' order.
func Grade(ctx context.Context, env scenarios.Env, checks []spec.Check, maxWait time.Duration, o Options) []scenarios.CheckResult {
	runner := &scenarios.Runner{Env: env, Logger: o.Logger, Interval: o.Interval}
	out := make([]scenarios.CheckResult, len(checks))
	var wg sync.WaitGroup
	for i := range checks {
		c := checks[i]
		if maxWait >= 0 && c.Type != spec.NoFlap && c.Deadline() > maxWait {
			d := spec.Duration(maxWait)
			c.Wait = &d
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = runner.RunCheck(ctx, &c)
		}()
	}
	wg.Wait()
	return out
}

// Summarize counts results.
func Summarize(rs []scenarios.CheckResult) *Summary {
	s := &Summary{At: time.Now().UTC()}
	for _, r := range rs {
		switch r.Status {
		case scenarios.Pass:
			s.Passed++
			continue
		case scenarios.Fail:
			s.Failed++
		default:
			s.Errors++
		}
		s.Failing = append(s.Failing, r.Label())
	}
	return s
}

// Grading is the result of grading a lab's exercise.
type Grading struct {
	Lab      string                  `json:"lab"`
	Exercise string                  `json:"exercise"`
	Summary  *Summary                `json:"summary"`
	Checks   []scenarios.CheckResult `json:"checks"`
	// Solved says the fix passed every check (now or before).
	Solved *time.Time `json:"solved,omitempty"`
}

// Running returns a lab's exercise and its state.
func Running(m *lab.Manager, labName string) (*lab.Lab, *State, *Exercise, error) {
	l, err := m.Load(labName)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := ReadState(l.Dir)
	if err != nil {
		if errors.Is(err, ErrNoExercise) {
			return nil, nil, nil, fmt.Errorf("lab %s runs no exercise: start one with onp exercise start NAME --lab %s (onp exercise list shows them)", labName, labName)
		}
		return nil, nil, nil, err
	}
	ex, err := FromSource(st.Source)
	if err != nil {
		return nil, nil, nil, err
	}
	return l, st, ex, nil
}

// Check grades the exercise running in a lab (maxWait as for Grade) and
// records the result in its state.
func Check(ctx context.Context, labName string, maxWait time.Duration, o Options) (*Grading, error) {
	l, st, ex, err := Running(o.Manager, labName)
	if err != nil {
		return nil, err
	}
	env := scenarios.NewLabEnv(o.Manager, l)
	env.Logger = o.Logger
	defer env.Close()
	rs := Grade(ctx, env, ex.GradingChecks(), maxWait, o)
	sum := Summarize(rs)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Another command may have changed the state meanwhile (a hint).
	if cur, err := ReadState(l.Dir); err == nil {
		st = cur
	}
	st.LastCheck = sum
	if sum.OK() && st.Solved == nil {
		now := sum.At
		st.Solved = &now
	}
	if err := st.Save(l.Dir); err != nil {
		return nil, err
	}
	return &Grading{Lab: labName, Exercise: ex.Name, Summary: sum, Checks: rs, Solved: st.Solved}, nil
}

// Hint reveals the next hint of a lab's exercise. It returns the hints
// shown so far, and whether this call revealed a new one (false once all
// were shown).
func Hint(labName string, m *lab.Manager) (*Exercise, []string, bool, error) {
	l, st, ex, err := Running(m, labName)
	if err != nil {
		return nil, nil, false, err
	}
	if len(ex.Hints) == 0 {
		return ex, nil, false, fmt.Errorf("exercise %s has no hints; onp exercise solution shows the answer", ex.Name)
	}
	revealed := st.HintsShown < len(ex.Hints)
	if revealed {
		st.HintsShown++
		if err := st.Save(l.Dir); err != nil {
			return nil, nil, false, err
		}
	}
	return ex, ex.Hints[:min(st.HintsShown, len(ex.Hints))], revealed, nil
}

// ShowSolution returns a lab's exercise for its solution and records that
// the solution was shown.
func ShowSolution(labName string, m *lab.Manager) (*Exercise, *State, error) {
	l, st, ex, err := Running(m, labName)
	if err != nil {
		return nil, nil, err
	}
	if !st.SolutionShown {
		st.SolutionShown = true
		if err := st.Save(l.Dir); err != nil {
			return nil, nil, err
		}
	}
	return ex, st, nil
}

// Reset brings a lab back to the exercise's broken starting state: the lab
// is removed and built again, and broken again. Hints already shown stay
// shown. ex, when not nil, replaces the lab's exercise (or starts one in a
// lab that has none).
func Reset(ctx context.Context, labName string, ex *Exercise, o Options) (*State, error) {
	m := o.Manager
	var old *State
	if _, err := m.ReadMeta(labName); err == nil {
		if st, err := ReadState(m.Paths.LabDir(labName)); err == nil {
			old = st
		}
	}
	if ex == nil {
		if old == nil {
			return nil, fmt.Errorf("lab %s runs no exercise to reset: give the exercise (onp exercise reset NAME --lab %s) or start one (onp exercise start NAME)", labName, labName)
		}
		var err error
		if ex, err = FromSource(old.Source); err != nil {
			return nil, err
		}
	}
	if err := o.phase("Removing lab "+labName, func() error {
		_, err := m.Down(ctx, labName)
		return err
	}); err != nil {
		return nil, err
	}
	st, err := Start(ctx, ex, labName, o)
	if err != nil {
		return nil, err
	}
	if old != nil && old.Source == st.Source {
		st.Started, st.Resets = old.Started, old.Resets+1
		st.HintsShown, st.SolutionShown, st.Solved = old.HintsShown, old.SolutionShown, old.Solved
		if err := st.Save(m.Paths.LabDir(labName)); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// SameShape says how a running lab differs from the lab an exercise needs:
// the same networks (subnets), nodes (kinds, VyOS dialect) and interfaces
// (networks, addresses). Nil means the exercise can use the lab.
func SameShape(have, want *topology.Topology) error {
	for _, wn := range want.Networks {
		hn := have.Network(wn.Name)
		switch {
		case hn == nil:
			return fmt.Errorf("it has no network %s", wn.Name)
		case hn.Subnet != wn.Subnet:
			return fmt.Errorf("its network %s is %s, not %s", wn.Name, hn.Subnet, wn.Subnet)
		}
	}
	for _, w := range want.Nodes {
		h := have.Node(w.Name)
		switch {
		case h == nil:
			return fmt.Errorf("it has no node %s", w.Name)
		case h.Kind != w.Kind:
			return fmt.Errorf("its node %s is a %s node, not %s", w.Name, h.Kind, w.Kind)
		case len(h.Interfaces) != len(w.Interfaces):
			return fmt.Errorf("its node %s has %d interfaces, not %d", w.Name, len(h.Interfaces), len(w.Interfaces))
		}
		for i := range w.Interfaces {
			hi, wi := h.Interfaces[i], w.Interfaces[i]
			hp, _ := have.InterfacePrefix(hi)
			wp, _ := want.InterfacePrefix(wi)
			if hi.Network != wi.Network || hp != wp {
				return fmt.Errorf("its node %s has eth%d on %s %s, not on %s %s", w.Name, i, hi.Network, hp, wi.Network, wp)
			}
		}
		if w.Kind == "vyos" && h.VyOS != nil && w.VyOS != nil && h.VyOS.Version != w.VyOS.Version {
			return fmt.Errorf("its router %s speaks VyOS %s, not %s", w.Name, h.VyOS.Version, w.VyOS.Version)
		}
	}
	var extra []string
	for _, h := range have.Nodes {
		if want.Node(h.Name) == nil {
			extra = append(extra, h.Name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("it has nodes the exercise does not know (%s)", strings.Join(extra, ", "))
	}
	return nil
}
