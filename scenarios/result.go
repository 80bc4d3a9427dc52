package scenarios

import (
	"time"

	"github.com/onp-lab/onp/scenarios/spec"
)

// Status is the outcome of a target, check, step or suite.
type Status string

// Outcomes. Error means the check could not run (unknown node, router
// unreachable, a data source this build lacks): it is neither a pass nor a
// failure of the lab.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Error   Status = "error"
	Skipped Status = "skipped"
)

// worse returns the more severe of two statuses (error > fail > skipped >
// pass).
func worse(a, b Status) Status {
	rank := map[Status]int{Pass: 0, "": 0, Skipped: 1, Fail: 2, Error: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// TargetResult is the outcome of a check on one target (a node, or a node
// and a peer).
type TargetResult struct {
	Target  string `json:"target"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	// Attempts counts the tries (once a second until the deadline).
	Attempts int           `json:"attempts"`
	Seconds  float64       `json:"seconds"`
	Duration time.Duration `json:"-"`
}

// CheckResult is the outcome of one check.
type CheckResult struct {
	Name  string `json:"name,omitempty"`
	Type  string `json:"type"`
	Title string `json:"title"`
	// Status is the worst of the targets' statuses, or Error when the
	// check could not start (Message says why).
	Status  Status         `json:"status"`
	Message string         `json:"message,omitempty"`
	Targets []TargetResult `json:"targets"`
	// Wait is the check's deadline in seconds.
	Wait     float64       `json:"wait"`
	Seconds  float64       `json:"seconds"`
	Duration time.Duration `json:"-"`

	Check spec.Check `json:"-"`
}

// Label is the short name of a check in reports: its name or its type.
func (r *CheckResult) Label() string {
	if r.Name != "" {
		return r.Name
	}
	return r.Type
}

// StepResult is the outcome of one scenario step.
type StepResult struct {
	Index int    `json:"index"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// Status is Error when the step could not be carried out; for a check
	// step it is the worst of its checks.
	Status   Status        `json:"status"`
	Message  string        `json:"message,omitempty"`
	Checks   []CheckResult `json:"checks,omitempty"`
	Seconds  float64       `json:"seconds"`
	Duration time.Duration `json:"-"`
}

// Suite is the result of running one scenario, or the checks of one lab.
type Suite struct {
	// Name is the scenario's name, or "checks" for a lab's checks.
	Name string `json:"name"`
	// Source is the scenario file (or builtin:NAME) or the lab file.
	Source string `json:"source,omitempty"`
	// Lab is the lab the suite ran in.
	Lab string `json:"lab"`
	// Kept is true when the lab was left running (--keep).
	Kept   bool   `json:"kept,omitempty"`
	Status Status `json:"status"`
	// Error says why the suite could not run (the lab could not be built).
	Error    string        `json:"error,omitempty"`
	Steps    []StepResult  `json:"steps,omitempty"`
	Checks   []CheckResult `json:"checks"`
	Started  time.Time     `json:"started"`
	Seconds  float64       `json:"seconds"`
	Duration time.Duration `json:"-"`
}

// AllChecks returns the suite's check results: those of check steps, then
// the final checks.
func (s *Suite) AllChecks() []CheckResult {
	var out []CheckResult
	for _, st := range s.Steps {
		out = append(out, st.Checks...)
	}
	return append(out, s.Checks...)
}

// finish sets the suite's status from its parts.
func (s *Suite) finish() {
	st := Pass
	if s.Error != "" {
		st = Error
	}
	for _, x := range s.Steps {
		st = worse(st, x.Status)
	}
	for _, c := range s.Checks {
		st = worse(st, c.Status)
	}
	s.Status = st
	s.Duration = time.Since(s.Started)
	s.Seconds = seconds(s.Duration)
}

// Summary counts checks by outcome.
type Summary struct {
	Suites  int `json:"suites"`
	Checks  int `json:"checks"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Errors  int `json:"errors"`
	Skipped int `json:"skipped"`
	// Steps counts scenario steps that could not be carried out.
	StepErrors int `json:"stepErrors"`
	// SuiteErrors counts suites that could not run at all.
	SuiteErrors int `json:"suiteErrors"`
}

// Report is the result of a run: one suite per scenario (or one for a
// lab's checks).
type Report struct {
	Suites  []*Suite `json:"suites"`
	Summary Summary  `json:"summary"`
	// ExitCode is what onp exits with: 0 all passed, 1 a check failed, 2 a
	// check or step could not run (this wins over 1: the result is
	// incomplete).
	ExitCode int `json:"exitCode"`
	// Seconds is the run's wall-clock time when the caller sets it (zero:
	// the longest suite's).
	Seconds float64 `json:"seconds,omitempty"`
}

// NewReport summarises suites.
func NewReport(suites ...*Suite) *Report {
	r := &Report{Suites: suites}
	r.Summary.Suites = len(suites)
	for _, s := range suites {
		if s.Error != "" {
			r.Summary.SuiteErrors++
		}
		for _, st := range s.Steps {
			if st.Kind != "check" && st.Status == Error {
				r.Summary.StepErrors++
			}
		}
		for _, c := range s.AllChecks() {
			r.Summary.Checks++
			switch c.Status {
			case Pass:
				r.Summary.Passed++
			case Fail:
				r.Summary.Failed++
			case Error:
				r.Summary.Errors++
			case Skipped:
				r.Summary.Skipped++
			}
		}
	}
	switch {
	case r.Summary.Errors > 0 || r.Summary.StepErrors > 0 || r.Summary.SuiteErrors > 0:
		r.ExitCode = 2
	case r.Summary.Failed > 0:
		r.ExitCode = 1
	}
	return r
}

func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
