package exercises

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/scenarios"
	"github.com/onp-lab/onp/topology"
)

// DefaultWorkshop is the name of the workshop whose students' labs are
// student01, student02, ...
const DefaultWorkshop = "default"

// MaxStudents bounds a workshop.
const MaxStudents = 200

// WorkshopFile is the workshop's record in its directory,
// $ONP_HOME/workshops/<name>/.
const WorkshopFile = "workshop.json"

// Workshop is a class: one lab per student, all of the same shape and with
// the same addresses, each in its own namespaces.
type Workshop struct {
	Name string `json:"name"`
	// Exercise is the exercise every student gets (empty: the lab only),
	// and Source where it came from.
	Exercise string `json:"exercise,omitempty"`
	Source   string `json:"source,omitempty"`
	// Lab is the topology's source when there is no exercise.
	Lab      string    `json:"lab"`
	Students []string  `json:"students"`
	Created  time.Time `json:"created"`
}

var workshopNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$`)

// StudentLabs names the labs of a workshop's n students: student01 ...
// for the default workshop, <name>-s01 ... otherwise (three digits from
// 100 students on).
func StudentLabs(workshop string, n int) ([]string, error) {
	if n < 1 || n > MaxStudents {
		return nil, fmt.Errorf("a workshop has 1 to %d students, not %d", MaxStudents, n)
	}
	width := 2
	if n >= 100 {
		width = 3
	}
	var out []string
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("student%0*d", width, i)
		if workshop != DefaultWorkshop {
			name = fmt.Sprintf("%s-s%0*d", workshop, width, i)
		}
		if why := topology.ValidLabName(name); why != "" {
			return nil, fmt.Errorf("workshop name %q makes the lab name %q, which %s: use a shorter workshop name", workshop, name, why)
		}
		out = append(out, name)
	}
	return out, nil
}

// WorkshopDir is where a workshop's record lives.
func WorkshopDir(home, name string) string { return filepath.Join(home, "workshops", name) }

// ReadWorkshop reads a workshop's record.
func ReadWorkshop(home, name string) (*Workshop, error) {
	b, err := os.ReadFile(filepath.Join(WorkshopDir(home, name), WorkshopFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			hint := "create it with onp workshop up --students N"
			if names, _ := Workshops(home); len(names) > 0 {
				hint = fmt.Sprintf("workshops: %v", names)
			}
			return nil, fmt.Errorf("no workshop %q (%s)", name, hint)
		}
		return nil, err
	}
	var w Workshop
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("workshop %s: %w", name, err)
	}
	return &w, nil
}

// Workshops lists the workshops of a state directory.
func Workshops(home string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(home, "workshops"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(home, "workshops", e.Name(), WorkshopFile)); err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

func (w *Workshop) save(home string) error {
	dir := WorkshopDir(home, w.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(w, "", "  ")
	tmp := filepath.Join(dir, WorkshopFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, WorkshopFile))
}

// WorkshopOptions say how a workshop is built.
type WorkshopOptions struct {
	// Name names the workshop (DefaultWorkshop when empty).
	Name     string
	Students int
	// Exercise, when set, is started in every student's lab; otherwise
	// every student gets Topology.
	Exercise *Exercise
	Topology *topology.Topology
	// Parallel is how many labs are built at once (default
	// DefaultParallel).
	Parallel int
	// NewManager returns a lab manager for one student's lab (each lab is
	// built by its own manager, so that progress can be told apart).
	NewManager func() *lab.Manager
	Logger     *slog.Logger
	// StudentDone hears about each student's lab as soon as it is ready
	// (err nil) or failed; calls come from several goroutines.
	StudentDone func(lab string, err error, took time.Duration)
}

// DefaultParallel is how many student labs are built at once: starting a
// lab is mostly waiting for its processes, so a few more than the CPUs.
func DefaultParallel() int { return min(2*runtime.NumCPU(), 8) }

// StudentResult is how one student's lab came up.
type StudentResult struct {
	Lab     string  `json:"lab"`
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds"`
}

// WorkshopUp builds every student's lab, Parallel at a time, each with the
// exercise started (or the plain lab). The workshop's record is written
// first, so that WorkshopDown finds every lab even after a failure. Labs
// that fail are reported; the others stay up.
func WorkshopUp(ctx context.Context, home string, o WorkshopOptions) (*Workshop, []StudentResult, error) {
	name := o.Name
	if name == "" {
		name = DefaultWorkshop
	}
	if len(name) > 20 || !workshopNameRE.MatchString(name) {
		return nil, nil, fmt.Errorf("workshop name %q must be 1 to 20 lower-case letters, digits and '-', starting with a letter", name)
	}
	students, err := StudentLabs(name, o.Students)
	if err != nil {
		return nil, nil, err
	}
	if _, err := ReadWorkshop(home, name); err == nil {
		return nil, nil, fmt.Errorf("workshop %s exists: see it with onp workshop status --name %s, remove it with onp workshop down --name %s", name, name, name)
	}
	top := o.Topology
	w := &Workshop{Name: name, Students: students, Created: time.Now().UTC()}
	if o.Exercise != nil {
		w.Exercise, w.Source, top = o.Exercise.Name, o.Exercise.Source, o.Exercise.Topology
	}
	if top == nil {
		return nil, nil, errors.New("a workshop needs an exercise or a lab")
	}
	w.Lab = top.Source
	m := o.NewManager()
	for _, s := range students {
		if _, err := m.ReadMeta(s); err == nil {
			return nil, nil, fmt.Errorf("lab %s exists already: remove it (onp down %s) or name the workshop differently (--name)", s, s)
		}
	}
	if err := w.save(home); err != nil {
		return nil, nil, err
	}
	par := o.Parallel
	if par < 1 {
		par = DefaultParallel()
	}
	results := make([]StudentResult, len(students))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, s := range students {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			m := o.NewManager()
			var err error
			if ctx.Err() != nil {
				err = ctx.Err()
			} else if o.Exercise != nil {
				_, err = Start(ctx, o.Exercise, s, Options{Manager: m, Logger: o.Logger})
			} else {
				_, err = m.Up(ctx, top, lab.UpOptions{Name: s})
			}
			took := time.Since(start)
			results[i] = StudentResult{Lab: s, Seconds: took.Round(time.Millisecond).Seconds()}
			if err != nil {
				results[i].Error = err.Error()
			}
			if o.StudentDone != nil {
				o.StudentDone(s, err, took)
			}
		}()
	}
	wg.Wait()
	var failed []string
	for _, r := range results {
		if r.Error != "" {
			failed = append(failed, r.Lab)
		}
	}
	if len(failed) > 0 {
		return w, results, fmt.Errorf("%d of %d student labs failed (%v); the others are up", len(failed), len(students), failed)
	}
	return w, results, nil
}

// StudentStatus is one student's lab at a glance.
type StudentStatus struct {
	Lab      string `json:"lab"`
	Exercise string `json:"exercise,omitempty"`
	// Up is false when the lab is gone; Error says why it could not be
	// graded.
	Up      bool     `json:"up"`
	Error   string   `json:"error,omitempty"`
	Summary *Summary `json:"summary,omitempty"`
	// HintsShown and SolutionShown come from the exercise's state.
	HintsShown    int        `json:"hintsShown"`
	Hints         int        `json:"hints"`
	SolutionShown bool       `json:"solutionShown,omitempty"`
	Solved        *time.Time `json:"solved,omitempty"`
	Resets        int        `json:"resets,omitempty"`
}

// WorkshopStatus grades every student's lab now (maxWait as for Grade; 0
// is a single attempt per check), Parallel labs at a time, without
// changing the students' state.
func WorkshopStatus(ctx context.Context, home string, name string, maxWait time.Duration, parallel int, newManager func() *lab.Manager) (*Workshop, []StudentStatus, error) {
	if name == "" {
		name = DefaultWorkshop
	}
	w, err := ReadWorkshop(home, name)
	if err != nil {
		return nil, nil, err
	}
	if parallel < 1 {
		parallel = DefaultParallel()
	}
	out := make([]StudentStatus, len(w.Students))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, s := range w.Students {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = studentStatus(ctx, newManager(), s, maxWait)
		}()
	}
	wg.Wait()
	return w, out, nil
}

func studentStatus(ctx context.Context, m *lab.Manager, labName string, maxWait time.Duration) StudentStatus {
	st := StudentStatus{Lab: labName}
	l, err := m.Load(labName)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	st.Up = true
	checks := l.Topology.Checks
	if s, err := ReadState(l.Dir); err == nil {
		st.Exercise, st.HintsShown, st.SolutionShown, st.Solved, st.Resets = s.Exercise, s.HintsShown, s.SolutionShown, s.Solved, s.Resets
		ex, err := FromSource(s.Source)
		if err != nil {
			st.Error = err.Error()
			return st
		}
		st.Hints = len(ex.Hints)
		checks = ex.GradingChecks()
	}
	if len(checks) == 0 {
		st.Error = "the lab has no checks"
		return st
	}
	env := scenarios.NewLabEnv(m, l)
	defer env.Close()
	st.Summary = Summarize(Grade(ctx, env, checks, maxWait, Options{}))
	return st
}

// WorkshopDown removes every student's lab, Parallel at a time, then the
// workshop's record. Labs that cannot be removed are reported and the
// record stays, so that it can be tried again.
func WorkshopDown(ctx context.Context, home, name string, parallel int, newManager func() *lab.Manager) (*Workshop, error) {
	if name == "" {
		name = DefaultWorkshop
	}
	w, err := ReadWorkshop(home, name)
	if err != nil {
		return nil, err
	}
	if parallel < 1 {
		parallel = DefaultParallel()
	}
	errs := make([]error, len(w.Students))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, s := range w.Students {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := newManager().Down(ctx, s); err != nil {
				errs[i] = fmt.Errorf("lab %s: %w", s, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return w, err
	}
	return w, os.RemoveAll(WorkshopDir(home, name))
}
