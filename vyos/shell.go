package vyos

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// Shell is one login session's CLI: operational mode, and configuration
// mode with its own working configuration. Lines end in "\n"; the SSH
// layer converts them for terminals. A Shell is not safe for concurrent
// use; sessions share the Router.
type Shell struct {
	r    *Router
	user string

	config  bool     // in configuration mode
	working *Config  // this session's candidate configuration
	baseGen uint64   // router generation working was derived from
	level   []string // edit level (absolute path)
	unsaved bool     // this session committed since its last save
	// pristine: working has no changes of its own, so it follows commits
	// made by other sessions.
	pristine bool
	termLen  int
	width    int
}

// NewShell starts a session for user in operational mode.
func (r *Router) NewShell(user string) *Shell {
	if user == "" {
		user = "vyos"
	}
	return &Shell{r: r, user: user}
}

// Prompt returns the prompt: "vyos@vyos:~$ " in operational mode,
// "[edit]\nvyos@vyos# " (or "[edit protocols bgp]\n...") in configuration
// mode.
func (s *Shell) Prompt() string {
	host := s.r.HostName()
	if !s.config {
		return fmt.Sprintf("%s@%s:~$ ", s.user, host)
	}
	edit := "[edit]"
	if len(s.level) > 0 {
		edit = "[edit " + strings.Join(s.level, " ") + "]"
	}
	return fmt.Sprintf("%s\n%s@%s# ", edit, s.user, host)
}

// InConfigMode reports whether the session is in configuration mode.
func (s *Shell) InConfigMode() bool { return s.config }

// Changed reports whether the session has uncommitted changes.
func (s *Shell) Changed() bool {
	if !s.config {
		return false
	}
	s.sync()
	active, _ := s.r.snapshot()
	return !s.working.Equal(active)
}

// sync refreshes an unchanged working configuration after another session
// committed, as VyOS's union of the active configuration and the session's
// changes would.
func (s *Shell) sync() {
	active, gen := s.r.snapshot()
	if gen == s.baseGen {
		return
	}
	if s.working == nil || s.pristine {
		s.working = active
	}
	s.baseGen = gen
}

// frame formats set/delete output the way VyOS's shell does: every line
// indented by two spaces, a blank line before and after.
func frame(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n")
	for _, l := range lines {
		if l == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

func frameErr(err error) string {
	if ce, ok := err.(*CLIError); ok {
		return frame(ce.Lines)
	}
	return frame(strings.Split(err.Error(), "\n"))
}

// Exec runs one line typed at the prompt and returns its output; exit is
// true when the session should end.
func (s *Shell) Exec(ctx context.Context, line string) (string, bool) {
	var b strings.Builder
	exit, _ := s.exec(ctx, line, &b)
	return b.String(), exit
}

// ExecTo is Exec writing its output to w as it is produced (ping and
// traceroute stream); it returns whether the session should end and the
// command's exit status.
func (s *Shell) ExecTo(ctx context.Context, line string, w io.Writer) (exit bool, status int) {
	return s.exec(ctx, line, w)
}

func (s *Shell) exec(ctx context.Context, line string, w io.Writer) (bool, int) {
	words, err := SplitLine(line)
	if err != nil {
		fmt.Fprintf(w, "-vbash: %v\n", err)
		return false, 2
	}
	if len(words) == 0 {
		return false, 0
	}
	// Output filters after "|", as VyOS's shell offers them.
	for i, wd := range words {
		if wd == "|" {
			var buf strings.Builder
			exit, st := s.exec1(ctx, words[:i], &buf)
			out, err := pipe(buf.String(), words[i+1:])
			if err != nil {
				fmt.Fprintf(w, "-vbash: %v\n", err)
				return exit, 1
			}
			io.WriteString(w, out)
			return exit, st
		}
	}
	return s.exec1(ctx, words, w)
}

func (s *Shell) exec1(ctx context.Context, words []string, w io.Writer) (bool, int) {
	if len(words) == 0 {
		return false, 0
	}
	if words[0] == "stty" {
		return false, 0 // terminal settings belong to the SSH layer
	}
	if s.config {
		return s.configCmd(ctx, words, w)
	}
	return s.opCmd(ctx, words, w)
}

// pipe applies VyOS's output filters: no-more/more/cat (nothing to do
// without a pager), match/grep and no-match (regular expressions), count,
// strip-private (mask secrets); filters chain with further "|".
func pipe(out string, words []string) (string, error) {
	for len(words) > 0 {
		end := len(words)
		for i, wd := range words {
			if wd == "|" {
				end = i
				break
			}
		}
		f := words[:end]
		if end < len(words) {
			words = words[end+1:]
		} else {
			words = nil
		}
		if len(f) == 0 {
			return "", fmt.Errorf("syntax error near unexpected token `|'")
		}
		lines := strings.SplitAfter(out, "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		switch f[0] {
		case "no-more", "more", "cat", "less":
		case "match", "grep", "no-match":
			if len(f) < 2 {
				return "", fmt.Errorf("%s: missing pattern", f[0])
			}
			re, err := regexp.Compile(strings.Join(f[1:], " "))
			if err != nil {
				return "", fmt.Errorf("%s: %v", f[0], err)
			}
			var b strings.Builder
			for _, l := range lines {
				if re.MatchString(l) == (f[0] != "no-match") {
					b.WriteString(l)
				}
			}
			out = b.String()
		case "count":
			out = fmt.Sprintf("%d\n", len(lines))
		case "strip-private":
			var b strings.Builder
			for _, l := range lines {
				t := strings.TrimSpace(l)
				if k := strings.Fields(t); len(k) >= 2 && strings.HasSuffix(k[len(k)-2], "password") {
					l = strings.Replace(l, k[len(k)-1], "xxxxxx", 1)
				}
				b.WriteString(l)
			}
			out = b.String()
		default:
			return "", fmt.Errorf("%s: command not found", f[0])
		}
	}
	return out, nil
}

var configCommands = []struct{ name, help string }{
	{"comment", "Add comment to this configuration element"},
	{"commit", "Commit the current set of changes"},
	{"compare", "Compare configuration revisions"},
	{"delete", "Delete a configuration element"},
	{"discard", "Discard uncommitted changes"},
	{"edit", "Edit a sub-element"},
	{"exit", "Exit from this configuration level"},
	{"load", "Load configuration from a file and replace running configuration"},
	{"merge", "Merge configuration from a file into the working configuration"},
	{"run", "Run an operational-mode command"},
	{"save", "Save configuration to a file"},
	{"set", "Set the value of a parameter or create a new element"},
	{"show", "Show the configuration (default values may be suppressed)"},
	{"top", "Exit to top level of configuration"},
	{"up", "Exit one level of configuration"},
}

// expandCommand resolves a unique prefix of a command name.
func expandCommand(w string, names []string) (string, []string) {
	var m []string
	for _, n := range names {
		if n == w {
			return n, nil
		}
		if strings.HasPrefix(n, w) {
			m = append(m, n)
		}
	}
	if len(m) == 1 {
		return m[0], nil
	}
	return "", m
}

// enterConfig switches to configuration mode with a fresh working copy.
func (s *Shell) enterConfig() {
	s.config = true
	s.working, s.baseGen = s.r.snapshot()
	s.pristine = true
	s.level = nil
}

func (s *Shell) configCmd(ctx context.Context, words []string, w io.Writer) (bool, int) {
	s.sync()
	var names []string
	for _, c := range configCommands {
		names = append(names, c.name)
	}
	cmd, amb := expandCommand(words[0], names)
	if cmd == "" && len(amb) > 0 {
		fmt.Fprintf(w, "\n  Ambiguous command: [%s]\n\n  Possible completions:\n", words[0])
		for _, c := range configCommands {
			if contains(amb, c.name) {
				fmt.Fprintf(w, "    %-12s%s\n", c.name, c.help)
			}
		}
		fmt.Fprintln(w)
		return false, 1
	}
	args := words[1:]
	abs := func() []string { return append(append([]string(nil), s.level...), args...) }
	switch cmd {
	case "set":
		s.pristine = false
		msg, err := s.working.set(abs(), len(s.level))
		if err != nil {
			io.WriteString(w, frameErr(err))
			return false, 1
		}
		if msg != "" {
			io.WriteString(w, frame([]string{msg}))
		}
		return false, 0
	case "delete":
		s.pristine = false
		msg, err := s.working.delete(abs(), len(s.level))
		if err != nil {
			io.WriteString(w, frameErr(err))
			return false, 1
		}
		if msg != "" {
			io.WriteString(w, frame([]string{msg}))
		}
		return false, 0
	case "show":
		return false, s.configShow(args, w)
	case "compare":
		active, _ := s.r.snapshot()
		out := compare(active, s.working)
		if out == "" {
			io.WriteString(w, "No changes between working and active configurations.\n")
			return false, 0
		}
		io.WriteString(w, out)
		return false, 0
	case "commit":
		res := s.r.Commit(ctx, s.working)
		io.WriteString(w, res.Output)
		if !res.OK {
			return false, 1
		}
		_, s.baseGen = s.r.snapshot()
		s.working, _ = s.r.snapshot()
		s.pristine = true
		s.unsaved = true
		return false, 0
	case "discard":
		active, gen := s.r.snapshot()
		if s.working.Equal(active) {
			io.WriteString(w, "  No changes have been discarded\n")
		} else {
			io.WriteString(w, "  Changes have been discarded\n")
		}
		s.working, s.baseGen, s.pristine = active, gen, true
		return false, 0
	case "save":
		if len(args) > 1 {
			fmt.Fprintf(w, "Invalid argument \"%s\" for 'save'\n", strings.Join(args[1:], " "))
			return false, 1
		}
		file := ""
		if len(args) == 1 {
			file = args[0]
		}
		active, _ := s.r.snapshot()
		if !s.working.Equal(active) {
			io.WriteString(w, "Warning: you have uncommitted changes that will not be saved.\n\n")
		}
		s.level = nil
		out, err := s.r.SaveTo(file)
		if err != nil {
			fmt.Fprintf(w, "Saving configuration failed: %v\n", err)
			return false, 1
		}
		io.WriteString(w, out)
		if file == "" || s.r.Saved() {
			s.unsaved = false
		}
		return false, 0
	case "load", "merge":
		if len(args) > 1 {
			fmt.Fprintf(w, "Invalid argument \"%s\" for '%s'\n", strings.Join(args[1:], " "), cmd)
			return false, 1
		}
		if cmd == "merge" && len(args) == 0 {
			io.WriteString(w, "\n  Incomplete command: merge\n\n")
			return false, 1
		}
		name := ""
		if len(args) == 1 {
			name = args[0]
		}
		c, shown, err := s.r.ReadConfigFile(name)
		if err != nil {
			fmt.Fprintf(w, "%v\n", err)
			return false, 1
		}
		fmt.Fprintf(w, "Loading configuration from '%s'...\n", shown)
		next := c
		if cmd == "merge" {
			next = s.working.Clone()
			for _, line := range c.Commands() {
				words, err := SplitLine(line)
				if err != nil || len(words) < 2 {
					continue
				}
				if _, err := next.Set(words[1:]...); err != nil {
					fmt.Fprintf(w, "Merge failed: %s: %v\n", line, err)
					return false, 1
				}
			}
		}
		s.working, s.level, s.pristine = next, nil, false
		if cmd == "merge" {
			io.WriteString(w, "Merge complete.  Use 'commit' to make changes active.\n")
		} else {
			io.WriteString(w, "Load complete.  Use 'commit' to make changes active.\n")
		}
		return false, 0
	case "exit":
		discard := false
		if len(args) == 1 && strings.HasPrefix("discard", args[0]) {
			discard = true
		} else if len(args) > 0 {
			fmt.Fprintf(w, "Invalid argument \"%s\" for 'exit'\n", strings.Join(args, " "))
			return false, 1
		}
		if len(s.level) > 0 {
			s.level = nil
			return false, 0
		}
		active, _ := s.r.snapshot()
		if !s.working.Equal(active) && !discard {
			io.WriteString(w, "Cannot exit: configuration modified.\nUse 'exit discard' to discard the changes and exit.\n")
			return false, 1
		}
		if s.unsaved && !s.r.Saved() {
			io.WriteString(w, "Warning: configuration changes have not been saved.\n")
		}
		s.config, s.working, s.level, s.unsaved = false, nil, nil, false
		fmt.Fprintln(w, "exit")
		return false, 0
	case "edit":
		return false, s.edit(args, w)
	case "top":
		if len(s.level) == 0 {
			io.WriteString(w, "Already at the top level\n")
			return false, 0
		}
		s.level = nil
		return false, 0
	case "up":
		s.up()
		return false, 0
	case "run":
		if len(args) == 0 {
			io.WriteString(w, "\n  Incomplete command: run\n\n")
			return false, 1
		}
		return s.opCmd(ctx, args, w)
	case "comment":
		fmt.Fprintf(w, "\n  Invalid command: [%s] (not supported by this router)\n\n", cmd)
		return false, 1
	}
	fmt.Fprintf(w, "\n  Invalid command: [%s]\n\n", words[0])
	return false, 1
}

// configShow prints config-mode "show [path]" with change markers.
func (s *Shell) configShow(args []string, w io.Writer) int {
	active, _ := s.r.snapshot()
	path := append(append([]string(nil), s.level...), args...)
	if len(args) > 0 {
		r, err := resolve(s.working.root.spec, path, len(s.level), false, "Show")
		if err != nil {
			io.WriteString(w, "Specified configuration path is not valid\n")
			return 1
		}
		path = r.words()
	}
	out := showAt(active, s.working, path)
	if strings.TrimSpace(out) == "" {
		io.WriteString(w, "Configuration under specified path is empty\n")
		return 0
	}
	io.WriteString(w, out)
	return 0
}

// edit moves the edit level to a tag entry or a plain node, creating it if
// needed (as VyOS does).
func (s *Shell) edit(args []string, w io.Writer) int {
	if len(args) == 0 {
		return 0
	}
	path := append(append([]string(nil), s.level...), args...)
	r, err := resolve(s.working.root.spec, path, len(s.level), true, "Edit")
	if err != nil {
		io.WriteString(w, frameErr(err))
		return 1
	}
	last := r.last()
	if !(last.kind == stepEntry || last.kind == stepNode && last.spec.kind == kNode) {
		io.WriteString(w, frame([]string{`The "edit" command cannot be issued at the specified level`}))
		return 1
	}
	words := r.words()
	if s.working.root.get(words...) == nil {
		s.pristine = false
		if _, err := s.working.set(words, len(s.level)); err != nil {
			io.WriteString(w, frameErr(err))
			return 1
		}
	}
	s.level = words
	return 0
}

// up leaves the current level for the nearest editable ancestor.
func (s *Shell) up() {
	if len(s.level) == 0 {
		return
	}
	r, err := resolve(s.working.root.spec, s.level, 0, false, "Up")
	if err != nil {
		s.level = nil
		return
	}
	steps := r.steps[:len(r.steps)-1]
	for len(steps) > 0 {
		l := steps[len(steps)-1]
		if l.kind == stepEntry || l.kind == stepNode && l.spec.kind == kNode {
			break
		}
		steps = steps[:len(steps)-1]
	}
	s.level = resolved{steps: steps}.words()
}

// Complete returns candidates for the next word of line (the word being
// typed, if the line does not end in a blank).
func (s *Shell) Complete(line string) []string {
	var out []string
	for _, c := range s.Help(line) {
		if !strings.HasPrefix(c.Word, "<") {
			out = append(out, c.Word)
		}
	}
	return out
}

// Completion is one candidate for the next word with VyOS's help text.
type Completion struct {
	Word string // a literal word, or a value format such as "<u32:1-255>"
	Help string
}

// Help returns the candidates for the next word of line with help texts,
// as "?" shows them.
func (s *Shell) Help(line string) []Completion {
	words, err := SplitLine(line)
	if err != nil {
		return nil
	}
	partial := ""
	if line != "" && !strings.HasSuffix(line, " ") && len(words) > 0 {
		partial = words[len(words)-1]
		words = words[:len(words)-1]
	}
	var cands []Completion
	if !s.config {
		cands = opCompletions(words)
	} else if len(words) == 0 {
		for _, c := range configCommands {
			cands = append(cands, Completion{c.name, c.help})
		}
	} else {
		cmd, _ := expandCommand(words[0], func() []string {
			var n []string
			for _, c := range configCommands {
				n = append(n, c.name)
			}
			return n
		}())
		switch cmd {
		case "set", "delete", "show", "edit":
			path := append(append([]string(nil), s.level...), words[1:]...)
			cands = s.pathCompletions(path, cmd != "set" && cmd != "edit")
		case "run":
			cands = opCompletions(words[1:])
		case "exit":
			if len(words) == 1 {
				cands = []Completion{{"discard", "Discard any changes"}}
			}
		}
	}
	var out []Completion
	for _, c := range cands {
		if partial == "" || strings.HasPrefix(c.Word, partial) {
			out = append(out, c)
		}
	}
	return out
}

// pathCompletions lists what may follow a configuration path.
func (s *Shell) pathCompletions(path []string, existingOnly bool) []Completion {
	var r resolved
	if len(path) > 0 {
		var err *CLIError
		r, err = resolve(s.working.root.spec, path, 0, false, "Set")
		if err != nil {
			return nil
		}
	}
	cur := s.working.root.spec
	atEntry := false
	if len(r.steps) > 0 {
		l := r.last()
		cur = l.spec
		switch {
		case l.kind == stepNode && l.spec.kind == kTag:
			atEntry = true
		case l.kind == stepValue, l.kind == stepNode && l.spec.kind == kFlag:
			return nil
		case l.kind == stepNode && (l.spec.kind == kLeaf || l.spec.kind == kMulti):
			var out []Completion
			if n := s.working.root.get(r.words()...); n != nil {
				for _, v := range n.values {
					out = append(out, Completion{v, ""})
				}
			}
			if !existingOnly && cur.typ != nil {
				for _, c := range cur.typ.complete {
					out = append(out, Completion{c, ""})
				}
				for _, h := range cur.typ.help {
					out = append(out, Completion{"<" + h[0] + ">", h[1]})
				}
			}
			return out
		}
	}
	var out []Completion
	if atEntry {
		if n := s.working.root.get(r.words()...); n != nil {
			for _, e := range n.children {
				out = append(out, Completion{e.name, ""})
			}
		}
		if !existingOnly && cur.typ != nil {
			for _, h := range cur.typ.help {
				out = append(out, Completion{"<" + h[0] + ">", h[1]})
			}
		}
		return out
	}
	kids := append([]*spec(nil), cur.children...)
	sort.Slice(kids, func(i, j int) bool { return kids[i].name < kids[j].name })
	for _, k := range kids {
		if existingOnly {
			words := append(r.words(), k.name)
			if s.working.root.get(words...) == nil {
				continue
			}
		}
		out = append(out, Completion{k.name, k.help})
	}
	return out
}
