package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/exercises"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/topology"
)

// workshopCommand builds, grades and removes a class's labs.
func (a *app) workshopCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "workshop",
		Aliases: []string{"workshops"},
		Short:   "A class: one isolated lab per student, with the same exercise and addresses",
		Long: `A workshop gives every student a lab of their own: the same topology and the
same addresses (every student's router is 192.168.126.3), each in its own
network namespaces, so that no packet crosses from one lab to another.
"up" builds the labs (student01, student02, ... or <name>-s01, ...) a few at a
time, with an exercise started in each; "status" grades every lab at a
glance; "down" removes them all. A student works on their lab with --lab:
onp ssh --lab student07 vyos, onp exercise check --lab student07.`,
	}
	c.AddCommand(a.workshopUpCommand(), a.workshopStatusCommand(), a.workshopDownCommand())
	return c
}

// quietManager is a lab manager that prints no phases (several labs are
// built at once).
func (a *app) quietManager() *lab.Manager {
	m := a.manager()
	m.Progress = nil
	return m
}

func (a *app) workshopUpCommand() *cobra.Command {
	var students, parallel int
	var exercise, name, labSrc string
	c := &cobra.Command{
		Use:   "up --students N [--exercise NAME|FILE] [--name W] [--parallel P]",
		Short: "Build one lab per student (with an exercise started in each)",
		Example: `  onp workshop up --students 12 --exercise asn-mismatch
  onp workshop up --students 30 --name bgp101 --exercise ./day2.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if students < 1 || students > exercises.MaxStudents {
				return usageError("give --students N, from 1 to %d", exercises.MaxStudents)
			}
			o := exercises.WorkshopOptions{Name: name, Students: students, Parallel: parallel, NewManager: a.quietManager, Logger: a.logger()}
			switch {
			case exercise != "" && labSrc != "":
				return usageError("give --exercise or --lab-file, not both: an exercise brings its lab")
			case exercise != "":
				ex, err := resolveExercise(exercise)
				if err != nil {
					return err
				}
				o.Exercise = ex
			default:
				if labSrc == "" {
					labSrc = "sno-bgp"
				}
				top, err := topology.Resolve(labSrc)
				if err != nil {
					return err
				}
				o.Topology = top
			}
			var mu sync.Mutex
			done := 0
			tty := isTTY(a.stderr)
			o.StudentDone = func(l string, err error, took time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				done++
				if err != nil {
					fmt.Fprintf(a.stderr, " %s %s (%d/%d): %v\n", paint(tty, "✗", red), l, done, students, err)
					return
				}
				fmt.Fprintf(a.stderr, " %s %s ready in %s (%d/%d)\n", paint(tty, "✓", green), l, fmtDuration(took), done, students)
			}
			start := time.Now()
			w, results, err := exercises.WorkshopUp(cmd.Context(), a.home, o)
			if w == nil {
				return err
			}
			if a.output == "json" || a.output == "yaml" {
				if eerr := a.emit(map[string]any{"workshop": w, "students": results, "seconds": time.Since(start).Round(time.Millisecond).Seconds()}); eerr != nil {
					return eerr
				}
				return err
			}
			what := "the lab " + w.Lab
			if w.Exercise != "" {
				what = "exercise " + w.Exercise
			}
			fmt.Fprintf(a.stdout, "\nWorkshop %s: %d labs (%s … %s) with %s, built in %s.\n", w.Name, len(w.Students), w.Students[0], w.Students[len(w.Students)-1], what, fmtDuration(time.Since(start)))
			nameFlag := ""
			if w.Name != exercises.DefaultWorkshop {
				nameFlag = " --name " + w.Name
			}
			fmt.Fprintln(a.stdout, "\nNext:")
			rows := [][]string{
				{"  onp ssh --lab " + w.Students[0] + " vyos", "a student's router"},
			}
			if w.Exercise != "" {
				rows = append(rows, []string{"  onp exercise check --lab " + w.Students[0], "a student grades their fix"})
			}
			rows = append(rows,
				[]string{"  onp workshop status" + nameFlag, "every student's checks at a glance"},
				[]string{"  onp workshop down" + nameFlag, "remove every student's lab"},
			)
			table(a.stdout, []string{"  COMMAND", "WHAT"}, rows)
			return err
		},
	}
	c.Flags().IntVar(&students, "students", 0, "how many students (labs)")
	c.Flags().StringVar(&exercise, "exercise", "", "the exercise every student gets (a built-in name or a file)")
	c.Flags().StringVar(&labSrc, "lab-file", "", "without an exercise: the lab every student gets (a built-in lab or a lab file; default sno-bgp)")
	c.Flags().StringVar(&name, "name", "", "the workshop's name; its labs are NAME-s01, ... (default: student01, ...)")
	c.Flags().IntVar(&parallel, "parallel", 0, fmt.Sprintf("labs built at once (default %d)", exercises.DefaultParallel()))
	return c
}

func (a *app) workshopStatusCommand() *cobra.Command {
	var name string
	var wait time.Duration
	var parallel int
	c := &cobra.Command{
		Use:   "status [--name W] [--wait D]",
		Short: "Every student's checks at a glance: one line per student",
		Long: `Grade every student's lab now and print one line per student: how many checks
pass and fail, which ones fail, how many hints were shown, whether the
solution was shown, and when the exercise was first solved. By default each
check gets a single attempt (--wait lets them retry). The students' own
state is not changed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if wait < 0 {
				return usageError("--wait must not be negative")
			}
			w, sts, err := exercises.WorkshopStatus(cmd.Context(), a.home, name, wait, parallel, a.quietManager)
			if err != nil {
				return err
			}
			if a.output == "json" || a.output == "yaml" {
				return a.emit(map[string]any{"workshop": w, "students": sts})
			}
			tty := isTTY(a.stdout)
			var rows [][]string
			solved := 0
			for _, s := range sts {
				row := []string{s.Lab, s.Exercise, "-", "-", "-", "-", ""}
				if s.Hints > 0 {
					row[4] = fmt.Sprintf("%d/%d", s.HintsShown, s.Hints)
				}
				if s.SolutionShown {
					row[4] += " +solution"
				}
				switch {
				case !s.Up:
					row[6] = paint(tty, "lab is gone", red)
				case s.Error != "":
					row[6] = paint(tty, "cannot grade: "+s.Error, red)
				default:
					row[2] = fmt.Sprint(s.Summary.Passed)
					row[3] = fmt.Sprint(s.Summary.Failed + s.Summary.Errors)
					if s.Summary.OK() {
						solved++
						row[6] = paint(tty, "PASS", green)
					} else {
						row[6] = paint(tty, "FAIL: "+strings.Join(s.Summary.Failing, ", "), red)
					}
				}
				if s.Solved != nil {
					row[5] = s.Solved.Local().Format("15:04:05")
				}
				rows = append(rows, row)
			}
			table(a.stdout, []string{"STUDENT", "EXERCISE", "PASS", "FAIL", "HINTS", "SOLVED AT", "CHECKS"}, rows)
			fmt.Fprintf(a.stdout, "\n%d of %d students pass every check.\n", solved, len(sts))
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "the workshop (default: the one of student01, ...)")
	c.Flags().DurationVar(&wait, "wait", 0, "how long each check may retry (0s: one attempt)")
	c.Flags().IntVar(&parallel, "parallel", 0, "labs graded at once")
	return c
}

func (a *app) workshopDownCommand() *cobra.Command {
	var name string
	var parallel int
	c := &cobra.Command{
		Use:   "down [--name W]",
		Short: "Remove every student's lab and the workshop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			end := a.ui.Phase("Removing the workshop's labs")
			w, err := exercises.WorkshopDown(cmd.Context(), a.home, name, parallel, a.quietManager)
			end(err)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "workshop %s removed: %d labs\n", w.Name, len(w.Students))
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "the workshop (default: the one of student01, ...)")
	c.Flags().IntVar(&parallel, "parallel", 0, "labs removed at once")
	return c
}
