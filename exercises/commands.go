package exercises

import (
	"strings"
	"time"

	"github.com/onp-lab/onp/scenarios/format"
)

// DefaultLab is the lab onp commands work on without --lab.
const DefaultLab = "onp"

// Command is one thing a student does at the shell to carry out a solution
// step: an onp command line, what it reads from standard input, and the
// lines typed into the interactive session it opens (onp ssh).
type Command struct {
	// Args is the command line after "onp"; it names the lab (--lab) unless
	// the lab is the default one.
	Args []string `json:"args,omitempty"`
	// Stdin is what the command reads from standard input (shown as a
	// here-document).
	Stdin string `json:"stdin,omitempty"`
	// Typed are the lines to type into the session Args opens.
	Typed []string `json:"typed,omitempty"`
	// Wait is a pause before the next command.
	Wait time.Duration `json:"wait,omitempty"`
}

// Commands turns steps into the commands a student types in lab labName:
// router steps become onp ssh sessions (typed) or onp vyos configure
// (pushed), apply steps onp apply -f -, delete steps onp delete, exec steps
// onp exec.
func Commands(labName string, steps []format.Step) []Command {
	var out []Command
	cmd := func(verb []string, rest ...string) []string {
		args := append([]string(nil), verb...)
		if labName != "" && labName != DefaultLab {
			args = append(args, "--lab", labName)
		}
		return append(args, rest...)
	}
	for i := range steps {
		st := &steps[i]
		switch {
		case st.Router != nil:
			lines := st.Router.Commands
			if st.Router.File != "" {
				lines = strings.Split(string(st.Data()), "\n")
			}
			if st.Router.Typed {
				out = append(out, Command{Args: cmd([]string{"ssh"}, st.Router.Node), Typed: append(format.WrapConfigure(lines), "exit")})
			} else {
				out = append(out, Command{Args: cmd([]string{"vyos", "configure"}, st.Router.Node, "-f", "-"), Stdin: strings.Join(format.ConfigLines(lines), "\n") + "\n"})
			}
		case st.Apply != nil:
			c := Command{Args: cmd([]string{"apply"}, "-f", "-"), Stdin: string(st.Data())}
			if st.Apply.Node != "" {
				c.Args = cmd([]string{"apply"}, "--node", st.Apply.Node, "-f", "-")
			}
			out = append(out, c)
		case st.Delete != nil:
			for _, o := range st.Delete.Objects {
				args := cmd([]string{"delete"}, o.Kind, o.Name)
				if o.Namespace != "" {
					args = append(args, "-n", o.Namespace)
				}
				if st.Delete.Node != "" {
					args = append(args, "--node", st.Delete.Node)
				}
				out = append(out, Command{Args: args})
			}
		case st.Exec != nil:
			out = append(out, Command{Args: cmd([]string{"exec"}, append([]string{st.Exec.Node, "--"}, st.Exec.Command...)...), Stdin: st.Exec.Stdin})
		case st.Wait != nil:
			out = append(out, Command{Wait: st.Wait.D()})
		}
	}
	return out
}

// ShellQuote quotes a word for a POSIX shell when it needs it.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Line is the command as typed at a shell (without the input).
func (c Command) Line() string {
	if len(c.Args) == 0 {
		return ""
	}
	words := []string{"onp"}
	for _, a := range c.Args {
		words = append(words, ShellQuote(a))
	}
	return strings.Join(words, " ")
}
