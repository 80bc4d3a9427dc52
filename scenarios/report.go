package scenarios

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/onp-lab/onp/scenarios/spec"
)

// TextReporter prints progress netlab-style as an Observer: a header per
// check, one PASS/FAIL/ERROR line per target as it finishes, and with
// Summary a closing line. Color adds ANSI colours (on a terminal).
type TextReporter struct {
	W     io.Writer
	Color bool
	// Prefix starts every line (e.g. the scenario's name when several run
	// at once).
	Prefix string

	mu sync.Mutex
}

const (
	ansiRed    = "31"
	ansiGreen  = "32"
	ansiYellow = "33"
	ansiBold   = "1"
	ansiDim    = "2"
)

func (t *TextReporter) paint(s, code string) string {
	if !t.Color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (t *TextReporter) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.W, t.Prefix+format, args...)
}

func (t *TextReporter) statusTag(s Status) string {
	switch s {
	case Pass:
		return t.paint("[PASS]", ansiGreen)
	case Fail:
		return t.paint("[FAIL]", ansiRed)
	case Error:
		return t.paint("[ERROR]", ansiYellow)
	case Skipped:
		return t.paint("[SKIPPED]", ansiDim)
	}
	return "[" + strings.ToUpper(string(s)) + "]"
}

// CheckStarted implements Observer.
func (t *TextReporter) CheckStarted(c *spec.Check, targets []string) {
	label := c.Type
	if c.Name != "" {
		label = c.Name
	}
	wait := c.Deadline()
	what := "wait"
	if c.Type == spec.NoFlap {
		wait, what = c.WindowOrDefault(), "window"
	}
	extra := ""
	if wait > 0 {
		extra = t.paint(fmt.Sprintf(" (%s %s)", what, wait), ansiDim)
	}
	t.printf("%s %s%s\n", t.paint("["+label+"]", ansiBold), c.Describe(), extra)
}

// TargetDone implements Observer.
func (t *TextReporter) TargetDone(c *spec.Check, r TargetResult) {
	t.printf("  %s %s: %s\n", t.statusTag(r.Status), r.Target, r.Message)
}

// CheckDone implements Observer.
func (t *TextReporter) CheckDone(r *CheckResult) {
	if r.Message != "" {
		t.printf("  %s %s\n", t.statusTag(r.Status), r.Message)
	}
}

// StepStarted implements Observer.
func (t *TextReporter) StepStarted(index int, kind, title string) {
	t.printf("%s\n", t.paint(fmt.Sprintf("── step %d: %s", index+1, title), ansiBold))
}

// StepDone implements Observer.
func (t *TextReporter) StepDone(r *StepResult) {
	if r.Kind == "check" {
		return
	}
	switch r.Status {
	case Pass:
		msg := "done"
		if r.Message != "" {
			msg = r.Message
		}
		t.printf("  %s %s %s\n", t.paint("[DONE]", ansiGreen), msg, t.paint("("+humanDuration(r.Duration)+")", ansiDim))
	default:
		t.printf("  %s %s\n", t.statusTag(r.Status), r.Message)
	}
}

// SuiteStarted prints a scenario's header.
func (t *TextReporter) SuiteStarted(name, description, labName string) {
	t.printf("%s %s\n", t.paint("== scenario "+name, ansiBold), t.paint("(lab "+labName+")", ansiDim))
	if description != "" {
		t.printf("   %s\n", strings.TrimSpace(strings.ReplaceAll(description, "\n", "\n   ")))
	}
}

// SuiteDone prints what was skipped and the suite's closing line.
func (t *TextReporter) SuiteDone(s *Suite) {
	for _, st := range s.Steps {
		if st.Status == Skipped {
			t.printf("%s step %d: %s\n", t.statusTag(Skipped), st.Index+1, st.Title)
		}
	}
	for _, c := range s.Checks {
		if c.Status == Skipped {
			t.printf("%s check %s: %s\n", t.statusTag(Skipped), c.Label(), c.Title)
		}
	}
	if s.Error != "" {
		t.printf("%s %s\n", t.statusTag(Error), s.Error)
	}
	r := NewReport(s)
	t.printf("%s\n", t.summaryLine(r, s.Duration))
}

// Summary prints the closing line of a whole report.
func (t *TextReporter) Summary(r *Report) {
	d := time.Duration(r.Seconds * float64(time.Second))
	for _, s := range r.Suites {
		if r.Seconds == 0 {
			d = max(d, s.Duration)
		}
	}
	t.printf("%s\n", t.summaryLine(r, d))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (t *TextReporter) summaryLine(r *Report, d time.Duration) string {
	s := r.Summary
	scope := ""
	if s.Suites > 1 {
		scope = plural(s.Suites, "scenario", "scenarios") + ", "
	}
	if r.ExitCode == 0 {
		return fmt.Sprintf("%s %s%s passed in %s", t.paint("[SUCCESS]", ansiGreen), scope, plural(s.Passed, "check", "checks"), humanDuration(d))
	}
	parts := []string{fmt.Sprintf("%d passed", s.Passed)}
	if s.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d could not run", s.Errors))
	}
	if s.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", s.Skipped))
	}
	if s.StepErrors > 0 {
		parts = append(parts, plural(s.StepErrors, "step", "steps")+" could not be carried out")
	}
	if s.SuiteErrors > 0 {
		parts = append(parts, plural(s.SuiteErrors, "lab", "labs")+" could not be built")
	}
	tag := t.paint("[FAILED]", ansiRed)
	return fmt.Sprintf("%s %s%s: %s (%s)", tag, scope, plural(s.Checks, "check", "checks"), strings.Join(parts, ", "), humanDuration(d))
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// JUnit XML, as CI systems (Jenkins, GitLab, GitHub actions) read it.
type (
	JUnitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     float64      `xml:"time,attr"`
		Suites   []JUnitSuite `xml:"testsuite"`
	}
	JUnitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Time       float64         `xml:"time,attr"`
		Timestamp  string          `xml:"timestamp,attr,omitempty"`
		Properties []JUnitProperty `xml:"properties>property,omitempty"`
		Cases      []JUnitCase     `xml:"testcase"`
	}
	JUnitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	JUnitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      float64       `xml:"time,attr"`
		Failure   *JUnitMessage `xml:"failure,omitempty"`
		Error     *JUnitMessage `xml:"error,omitempty"`
		Skipped   *JUnitMessage `xml:"skipped,omitempty"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	JUnitMessage struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",chardata"`
	}
)

// JUnit converts a report: one testsuite per suite, one testcase per
// check target and per scenario step that is not a check.
func JUnit(r *Report) *JUnitSuites {
	out := &JUnitSuites{Name: "onp"}
	for _, s := range r.Suites {
		js := JUnitSuite{Name: s.Name, Time: s.Seconds, Timestamp: s.Started.UTC().Format(time.RFC3339),
			Properties: []JUnitProperty{{"lab", s.Lab}, {"source", s.Source}}}
		add := func(c JUnitCase, st Status, msg string) {
			js.Tests++
			switch st {
			case Fail:
				js.Failures++
				c.Failure = &JUnitMessage{Message: msg, Type: "fail", Text: msg}
			case Error:
				js.Errors++
				c.Error = &JUnitMessage{Message: msg, Type: "error", Text: msg}
			case Skipped:
				js.Skipped++
				c.Skipped = &JUnitMessage{Message: msg}
			default:
				c.SystemOut = msg
			}
			js.Cases = append(js.Cases, c)
		}
		if s.Error != "" {
			add(JUnitCase{Name: "lab", Classname: s.Name}, Error, s.Error)
		}
		addChecks := func(class string, cs []CheckResult) {
			for _, c := range cs {
				if len(c.Targets) == 0 {
					add(JUnitCase{Name: c.Label() + ": " + c.Title, Classname: class, Time: c.Seconds}, c.Status, c.Message)
				}
				for _, t := range c.Targets {
					add(JUnitCase{Name: c.Label() + ": " + t.Target, Classname: class, Time: t.Seconds}, t.Status, t.Message)
				}
			}
		}
		for _, st := range s.Steps {
			if st.Kind == "check" {
				addChecks(fmt.Sprintf("%s.step%d", s.Name, st.Index+1), st.Checks)
				continue
			}
			add(JUnitCase{Name: st.Title, Classname: fmt.Sprintf("%s.step%d", s.Name, st.Index+1), Time: st.Seconds}, st.Status, st.Message)
		}
		addChecks(s.Name+".checks", s.Checks)
		out.Tests += js.Tests
		out.Failures += js.Failures
		out.Errors += js.Errors
		out.Skipped += js.Skipped
		out.Time = max(out.Time, js.Time)
		out.Suites = append(out.Suites, js)
	}
	return out
}

// WriteJUnit writes the report as JUnit XML.
func WriteJUnit(w io.Writer, r *Report) error {
	b, err := xml.MarshalIndent(JUnit(r), "", "  ")
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
