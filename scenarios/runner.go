package scenarios

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/onp-lab/onp/scenarios/spec"
)

// Observer is told about progress as it happens, e.g. to print check lines
// while a run goes on. Calls for one suite come from one goroutine at a
// time, except TargetDone, which the targets of one check call
// concurrently.
type Observer interface {
	CheckStarted(c *spec.Check, targets []string)
	TargetDone(c *spec.Check, r TargetResult)
	CheckDone(r *CheckResult)
	StepStarted(index int, kind, title string)
	StepDone(r *StepResult)
}

// NopObserver ignores everything; embed it to implement part of Observer.
type NopObserver struct{}

func (NopObserver) CheckStarted(*spec.Check, []string)   {}
func (NopObserver) TargetDone(*spec.Check, TargetResult) {}
func (NopObserver) CheckDone(*CheckResult)               {}
func (NopObserver) StepStarted(int, string, string)      {}
func (NopObserver) StepDone(*StepResult)                 {}

// DefaultInterval is the pause between attempts of a check.
const DefaultInterval = time.Second

// During a check's first FastFor, attempts follow each other FastInterval
// apart: what converges in a second or two (a BGP session's first connect
// retry, a route) is seen within a quarter second, and a check that waits
// longer does not poll its routers more than once a second.
const (
	FastInterval = 250 * time.Millisecond
	FastFor      = 5 * time.Second
)

// DefaultAttemptTimeout bounds one attempt (one vtysh call, one HTTP GET).
const DefaultAttemptTimeout = 5 * time.Second

// Runner runs checks against an Env.
type Runner struct {
	Env      Env
	Observer Observer
	Logger   *slog.Logger
	// Interval between attempts; zero means DefaultInterval.
	Interval time.Duration
	// AttemptTimeout bounds one attempt; zero means DefaultAttemptTimeout.
	AttemptTimeout time.Duration
}

func (r *Runner) observer() Observer {
	if r.Observer == nil {
		return NopObserver{}
	}
	return r.Observer
}

func (r *Runner) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Run runs checks one after the other, in order; the targets of one check
// run in parallel.
func (r *Runner) Run(ctx context.Context, checks []spec.Check) []CheckResult {
	out := make([]CheckResult, 0, len(checks))
	for i := range checks {
		out = append(out, r.RunCheck(ctx, &checks[i]))
	}
	return out
}

// Observation is what one attempt of a check saw.
type Observation struct {
	// OK is true when what was seen is what the check expects.
	OK bool
	// Expected describes what the check wants, e.g. "Established".
	Expected string
	// Seen describes what was seen, e.g. "Active". The runner reports how
	// long the same Seen was observed, so it must not contain counters
	// or timers that change on every attempt (those go into Detail).
	Seen string
	// Detail adds context, e.g. "last error: Connection refused".
	Detail string
}

// target is one thing a check is evaluated on.
type target struct {
	label   string
	attempt func(ctx context.Context) (Observation, error)
	// watch, when set, turns the target into a "consistently" check: it
	// must hold on every attempt for this long (no-flap).
	watch time.Duration
}

// RunCheck runs one check until every target passed or the deadline
// passed.
func (r *Runner) RunCheck(ctx context.Context, c *spec.Check) CheckResult {
	start := time.Now()
	res := CheckResult{Name: c.Name, Type: c.Type, Title: c.Title(), Check: *c, Wait: seconds(c.Deadline())}
	if c.Type == spec.NoFlap {
		res.Wait = seconds(c.WindowOrDefault())
	}
	obs := r.observer()
	done := func() CheckResult {
		res.Duration = time.Since(start)
		res.Seconds = seconds(res.Duration)
		obs.CheckDone(&res)
		return res
	}
	var targets []target
	var err error
	if errs := spec.ValidateCheck(nil, "", c, r.Env.Context()); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = strings.TrimPrefix(e.Error(), ": ")
		}
		err = fmt.Errorf("invalid check: %s", strings.Join(msgs, "; "))
	} else {
		targets, err = buildTargets(c, r.Env)
	}
	labels := make([]string, len(targets))
	for i, t := range targets {
		labels[i] = t.label
	}
	obs.CheckStarted(c, labels)
	if err != nil {
		res.Status, res.Message = Error, "cannot run: "+err.Error()
		return done()
	}
	res.Targets = make([]TargetResult, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := r.runTarget(ctx, c, t)
			res.Targets[i] = tr
			obs.TargetDone(c, tr)
		}()
	}
	wg.Wait()
	res.Status = Pass
	for _, t := range res.Targets {
		res.Status = worse(res.Status, t.Status)
	}
	return done()
}

// interval is the pause before the next attempt of a target that has been
// tried for elapsed.
func (r *Runner) interval(elapsed time.Duration) time.Duration {
	switch {
	case r.Interval > 0:
		return r.Interval
	case elapsed < FastFor:
		return FastInterval
	}
	return DefaultInterval
}

func (r *Runner) attemptTimeout() time.Duration {
	if r.AttemptTimeout > 0 {
		return r.AttemptTimeout
	}
	return DefaultAttemptTimeout
}

// runTarget retries one target once an interval until it passes or the
// deadline passes; a watched target must hold until its window ends.
func (r *Runner) runTarget(ctx context.Context, c *spec.Check, t target) TargetResult {
	start := time.Now()
	deadline := c.Deadline()
	if t.watch > 0 {
		deadline = t.watch
	}
	end := start.Add(deadline)
	res := TargetResult{Target: t.label}
	finish := func(st Status, msg string) TargetResult {
		res.Status, res.Message = st, msg
		res.Duration = time.Since(start)
		res.Seconds = seconds(res.Duration)
		r.log().Debug("check target done", "check", c.Title(), "target", t.label, "status", st, "attempts", res.Attempts, "message", msg)
		return res
	}
	var (
		last      Observation
		lastErr   error
		seenSince time.Time
		seenKey   string
		haveSeen  bool
	)
	for {
		attemptStart := time.Now()
		actx, cancel := context.WithTimeout(ctx, max(min(r.attemptTimeout(), time.Until(end)), r.interval(FastFor)))
		o, err := t.attempt(actx)
		cancel()
		res.Attempts++
		if ctx.Err() != nil {
			return finish(Error, "interrupted: "+ctx.Err().Error())
		}
		lastErr = err
		if err == nil {
			key := o.Seen + "\x00" + o.Expected
			if !haveSeen || key != seenKey {
				seenKey, seenSince, haveSeen = key, attemptStart, true
			}
			last = o
		}
		switch {
		case err != nil && IsPermanent(err):
			return finish(Error, "cannot run: "+err.Error())
		case err == nil && t.watch == 0 && o.OK:
			return finish(Pass, passMessage(o, res.Attempts, time.Since(start)))
		case err == nil && t.watch > 0 && !o.OK:
			return finish(Fail, fmt.Sprintf("%s (after %s of the %s window)", failMessage(o, 0), humanDuration(time.Since(start)), t.watch))
		}
		now := time.Now()
		if !now.Before(end) {
			break
		}
		next := attemptStart.Add(r.interval(now.Sub(start)))
		if next.After(end) {
			next = end
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return finish(Error, "interrupted: "+ctx.Err().Error())
		case <-timer.C:
		}
	}
	switch {
	case lastErr != nil:
		msg := "cannot run: " + lastErr.Error()
		if haveSeen {
			msg += fmt.Sprintf(" (last seen before that: %s)", last.Seen)
		}
		return finish(Error, msg)
	case t.watch > 0:
		return finish(Pass, passMessage(last, res.Attempts, time.Since(start)))
	default:
		return finish(Fail, failMessage(last, time.Since(seenSince)))
	}
}

func passMessage(o Observation, attempts int, d time.Duration) string {
	msg := o.Seen
	if o.Detail != "" {
		msg += "; " + o.Detail
	}
	if attempts > 1 {
		msg += fmt.Sprintf(" (after %s)", humanDuration(d))
	}
	return msg
}

func failMessage(o Observation, d time.Duration) string {
	msg := "expected " + o.Expected + ", saw " + o.Seen
	if d > 0 {
		msg += " for " + humanDuration(d)
	}
	if o.Detail != "" {
		msg += "; " + o.Detail
	}
	return msg
}

// humanDuration prints 12 s, 2.5 s or 300 ms.
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
}
