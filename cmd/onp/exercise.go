package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/exercises"
	"github.com/onp-lab/onp/scenarios"
)

// exerciseCommand lists, starts, grades, hints, solves and resets
// break-fix exercises.
func (a *app) exerciseCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "exercise",
		Aliases: []string{"exercises"},
		Short:   "Break-fix exercises: a broken lab, hints, a solution, checks that grade the fix",
		Long: `An exercise is a lab that works, broken on purpose: a wrong AS, a firewall
rule, a missing BGPAdvertisement, ... "onp exercise start NAME" builds the
lab (or takes the running lab of the same shape), makes sure it works,
breaks it, and prints what the student sees and which commands help.
"onp exercise check" grades the fix (PASS/FAIL per check and a verdict),
"hint" reveals the hints one at a time (the lab remembers how many were
shown), "solution" explains the fault and lists the commands that fix it,
"reset" brings the broken starting state back.

The catalogue is built in (onp exercise list); instructors write their own
as files (onp exercise show NAME prints one to copy; docs/exercises.md).`,
	}
	c.AddCommand(a.exerciseListCommand(), a.exerciseShowCommand(), a.exerciseValidateCommand(),
		a.exerciseStartCommand(), a.exerciseCheckCommand(), a.exerciseHintCommand(),
		a.exerciseSolutionCommand(), a.exerciseResetCommand())
	return c
}

func (a *app) exerciseOptions() exercises.Options {
	m := a.manager()
	return exercises.Options{Manager: m, Logger: a.logger(), Progress: a.ui}
}

func (a *app) exerciseListCommand() *cobra.Command {
	var causes bool
	c := &cobra.Command{
		Use:   "list [--causes]",
		Short: "List the built-in exercises",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			infos := exercises.Builtins()
			if a.output == "json" || a.output == "yaml" {
				return a.emit(infos)
			}
			var rows [][]string
			for _, e := range infos {
				row := []string{e.Name, e.Lab, e.Description}
				if causes {
					row[2] = e.Cause
				}
				rows = append(rows, row)
			}
			what := "WHAT THE STUDENT SEES"
			if causes {
				what = "CAUSE"
			}
			table(a.stdout, []string{"NAME", "LAB", what}, rows)
			return nil
		},
	}
	c.Flags().BoolVar(&causes, "causes", false, "show what is broken in each exercise (for instructors)")
	return c
}

func (a *app) exerciseShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "show NAME|FILE",
		Short:             "Print an exercise file (spoilers: its break steps and solution) to copy and edit",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeExercises,
		RunE: func(cmd *cobra.Command, args []string) error {
			var b []byte
			var err error
			if _, serr := os.Stat(args[0]); serr == nil {
				b, err = os.ReadFile(args[0])
			} else {
				b, err = exercises.BuiltinSource(args[0])
			}
			if err != nil {
				return usageError("%v", err)
			}
			_, err = a.stdout.Write(b)
			return err
		},
	}
}

func (a *app) exerciseValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:               "validate NAME|FILE...",
		Short:             "Check exercise files without building anything; every problem with file:line:col",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeExercises,
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []string
			for _, arg := range args {
				ex, err := exercises.Resolve(arg)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintf(a.stdout, "%s: valid (exercise %s, lab %s: %d nodes; %d setup steps, %d break steps, %d hints, %d checks)\n",
					ex.Source, ex.Name, ex.Topology.Name, len(ex.Topology.Nodes), len(ex.Setup), len(ex.Break), len(ex.Hints), len(ex.GradingChecks()))
			}
			if len(errs) > 0 {
				return &exitError{code: 2, err: errors.New(strings.Join(errs, "\n"))}
			}
			return nil
		},
	}
}

// resolveExercise loads an exercise by name or file; an unknown one is
// invalid input (exit code 2) whose message lists the valid names.
func resolveExercise(arg string) (*exercises.Exercise, error) {
	ex, err := exercises.Resolve(arg)
	if err != nil {
		if errors.Is(err, exercises.ErrUnknown) {
			return nil, usageError("%v", err)
		}
		return nil, err
	}
	return ex, nil
}

func (a *app) exerciseStartCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "start NAME|FILE [--lab LAB]",
		Short: "Build (or take) the lab, break it, and print the instructions",
		Long: `Start an exercise in a lab (--lab, default "onp"). When the lab does not exist
it is built; a running lab is used when it has the exercise's shape and runs
no exercise yet. onp first makes sure every check of the exercise passes,
then breaks the lab and waits until a check fails, then prints what the
student reads.`,
		Example: `  onp exercise start asn-mismatch
  onp exercise start ./my-exercise.yaml --lab student01`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeExercises,
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, err := resolveExercise(args[0])
			if err != nil {
				return err
			}
			st, err := exercises.Start(cmd.Context(), ex, a.labName, a.exerciseOptions())
			if err != nil {
				return err
			}
			if a.output == "json" || a.output == "yaml" {
				return a.emit(st)
			}
			a.printInstructions(ex, st)
			return nil
		},
	}
}

// labFlag is " --lab L" for a lab other than the default one.
func labFlag(l string) string {
	if l == "" || l == exercises.DefaultLab {
		return ""
	}
	return " --lab " + l
}

func (a *app) printInstructions(ex *exercises.Exercise, st *exercises.State) {
	w := a.stdout
	tty := isTTY(w)
	fmt.Fprintf(w, "\n%s\n\n", paint(tty, fmt.Sprintf("Exercise %s is ready in lab %s: the lab is broken.", ex.Name, st.Lab), bold))
	if st.Lab != exercises.DefaultLab {
		fmt.Fprintf(w, "Your lab is %s: run export ONP_LAB=%s first, so that the commands below work on it\n(or add --lab %s to each).\n\n", st.Lab, st.Lab, st.Lab)
	}
	fmt.Fprintln(w, strings.TrimRight(ex.Instructions, "\n"))
	fmt.Fprintf(w, "\n%s\n", paint(tty, "When you are done:", bold))
	rows := [][]string{
		{"  onp exercise check" + labFlag(st.Lab), "grade your fix (PASS/FAIL per check)"},
	}
	if len(ex.Hints) > 0 {
		rows = append(rows, []string{"  onp exercise hint" + labFlag(st.Lab), fmt.Sprintf("a hint (%d, one at a time)", len(ex.Hints))})
	}
	rows = append(rows,
		[]string{"  onp exercise solution" + labFlag(st.Lab), "the cause and the commands that fix it"},
		[]string{"  onp exercise reset" + labFlag(st.Lab), "back to the broken start"},
	)
	table(w, []string{"  COMMAND", "WHAT"}, rows)
}

func (a *app) exerciseCheckCommand() *cobra.Command {
	var wait time.Duration
	var junit string
	c := &cobra.Command{
		Use:   "check [--lab LAB] [--wait D] [--junit FILE]",
		Short: "Grade the fix: PASS/FAIL per check and a verdict",
		Long: `Run the exercise's checks against its lab, all at once, each retrying until
its deadline (--wait caps the deadlines: 0s is a single attempt), and print
one PASS/FAIL line per target and a verdict. Exit codes: 0 solved, 1 a check
fails, 2 a check could not run. -o json prints the grading.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			maxWait := time.Duration(-1)
			if cmd.Flags().Changed("wait") {
				if wait < 0 {
					return usageError("--wait must not be negative")
				}
				maxWait = wait
			}
			o := a.exerciseOptions()
			o.Progress = nil
			end := a.ui.Phase("Grading exercise in lab " + a.labName)
			g, err := exercises.Check(cmd.Context(), a.labName, maxWait, o)
			end(err)
			if err != nil {
				return err
			}
			suite := &scenarios.Suite{Name: "exercise " + g.Exercise, Source: "lab " + g.Lab, Lab: g.Lab, Checks: g.Checks}
			report := scenarios.NewReport(suite)
			if err := a.writeReport(report, true, junit); err != nil {
				return err
			}
			if a.output == "json" || a.output == "yaml" {
				if err := a.emit(g); err != nil {
					return err
				}
			} else {
				a.printGrading(g)
			}
			if report.ExitCode != 0 {
				return &exitError{code: report.ExitCode}
			}
			return nil
		},
	}
	c.Flags().DurationVar(&wait, "wait", 0, "cap every check's deadline (0s: one attempt each; default: each check's own wait)")
	c.Flags().StringVar(&junit, "junit", "", "also write the grading as JUnit XML to this file")
	return c
}

// printGrading prints the checks as onp check does, then the verdict.
func (a *app) printGrading(g *exercises.Grading) {
	tty := isTTY(a.stdout)
	rep := &scenarios.TextReporter{W: a.stdout, Color: tty}
	for i := range g.Checks {
		r := &g.Checks[i]
		rep.CheckStarted(&r.Check, nil)
		for _, t := range r.Targets {
			rep.TargetDone(&r.Check, t)
		}
		rep.CheckDone(r)
	}
	s := g.Summary
	total := s.Passed + s.Failed + s.Errors
	switch {
	case s.OK():
		fmt.Fprintf(a.stdout, "%s exercise %s: all %d checks pass. Well done.\n", paint(tty, "[SOLVED]", green), g.Exercise, total)
	case s.Failed == 0:
		fmt.Fprintf(a.stdout, "%s %d of %d checks could not run (%s): see the ERROR lines.\n", paint(tty, "[ERROR]", red), s.Errors, total, strings.Join(s.Failing, ", "))
	default:
		fmt.Fprintf(a.stdout, "%s %d of %d checks do not pass yet (%s). onp exercise hint%s gives a hint.\n",
			paint(tty, "[NOT YET]", red), s.Failed+s.Errors, total, strings.Join(s.Failing, ", "), labFlag(g.Lab))
	}
}

func (a *app) exerciseHintCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "hint [--lab LAB]",
		Short: "Reveal the next hint (the lab remembers how many were shown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, shown, revealed, err := exercises.Hint(a.labName, a.manager())
			if err != nil {
				return err
			}
			if a.output == "json" || a.output == "yaml" {
				return a.emit(map[string]any{"exercise": ex.Name, "hints": shown, "total": len(ex.Hints), "revealed": revealed})
			}
			tty := isTTY(a.stdout)
			for i, h := range shown {
				text := strings.TrimRight(h, "\n")
				head := fmt.Sprintf("Hint %d of %d:", i+1, len(ex.Hints))
				if i == len(shown)-1 && revealed {
					head = paint(tty, head, bold)
				} else {
					head = paint(tty, head, dim)
				}
				fmt.Fprintf(a.stdout, "%s\n%s\n\n", head, indent(text, "  "))
			}
			switch {
			case !revealed:
				fmt.Fprintf(a.stdout, "That was the last hint. onp exercise solution%s shows the answer.\n", labFlag(a.labName))
			case len(shown) < len(ex.Hints):
				fmt.Fprintf(a.stdout, "%d more: onp exercise hint%s\n", len(ex.Hints)-len(shown), labFlag(a.labName))
			}
			return nil
		},
	}
}

func indent(s, pre string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pre + l
		}
	}
	return strings.Join(lines, "\n")
}

func (a *app) exerciseSolutionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "solution [--lab LAB]",
		Short: "Explain the fault and list the commands that fix it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ex, st, err := exercises.ShowSolution(a.labName, a.manager())
			if err != nil {
				return err
			}
			cmds := exercises.Commands(st.Lab, ex.Solution.Steps)
			if a.output == "json" || a.output == "yaml" {
				return a.emit(map[string]any{"exercise": ex.Name, "text": ex.Solution.Text, "commands": cmds})
			}
			tty := isTTY(a.stdout)
			fmt.Fprintf(a.stdout, "%s\n%s\n", paint(tty, "Solution of "+ex.Name+":", bold), indent(strings.TrimRight(ex.Solution.Text, "\n"), "  "))
			if len(cmds) > 0 {
				fmt.Fprintf(a.stdout, "\n%s\n", paint(tty, "The commands:", bold))
				printCommands(a.stdout, cmds)
			}
			fmt.Fprintf(a.stdout, "\nThen: onp exercise check%s\n", labFlag(st.Lab))
			return nil
		},
	}
}

// printCommands prints commands as a shell session: here-documents for
// standard input, the lines to type after an onp ssh.
func printCommands(w io.Writer, cmds []exercises.Command) {
	for _, c := range cmds {
		switch {
		case c.Wait > 0:
			fmt.Fprintf(w, "  # wait %s\n", c.Wait)
		case len(c.Typed) > 0:
			fmt.Fprintf(w, "  $ %s\n", c.Line())
			mode := "~$"
			for _, l := range c.Typed {
				if mode == "#" {
					fmt.Fprintf(w, "    vyos@vyos# %s\n", l)
				} else {
					fmt.Fprintf(w, "    vyos@vyos:~$ %s\n", l)
				}
				switch l {
				case "configure":
					mode = "#"
				case "exit":
					mode = "~$"
				}
			}
		case c.Stdin != "":
			fmt.Fprintf(w, "  $ %s <<'EOF'\n%s  EOF\n", c.Line(), indent(c.Stdin, "  "))
		default:
			fmt.Fprintf(w, "  $ %s\n", c.Line())
		}
	}
}

func (a *app) exerciseResetCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "reset [NAME|FILE] [--lab LAB]",
		Short: "Back to the exercise's broken start: the lab is rebuilt and broken again",
		Long: `Remove the lab and build it again, broken as at the start of its exercise.
Hints already shown stay shown. With NAME or FILE, start that exercise
instead (also in a lab that runs none).`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeExercises,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ex *exercises.Exercise
			if len(args) == 1 {
				var err error
				if ex, err = resolveExercise(args[0]); err != nil {
					return err
				}
			}
			st, err := exercises.Reset(cmd.Context(), a.labName, ex, a.exerciseOptions())
			if err != nil {
				return err
			}
			if ex == nil {
				if ex, err = exercises.FromSource(st.Source); err != nil {
					return err
				}
			}
			if a.output == "json" || a.output == "yaml" {
				return a.emit(st)
			}
			a.printInstructions(ex, st)
			return nil
		},
	}
}

func completeExercises(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, b := range exercises.Builtins() {
		if strings.HasPrefix(b.Name, toComplete) {
			out = append(out, b.Name+"\t"+b.Description)
		}
	}
	return out, cobra.ShellCompDirectiveDefault
}
