package appliance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// execer runs the command string of an SSH exec request the way VyOS's login
// shell (vbash) would for the commands automation sends:
//
//	vbash -s                         script on stdin
//	vbash FILE, /bin/vbash FILE       script from a file (uploaded over SFTP)
//	/bin/vbash -c|-ic|-cil 'CMD'     a command string
//	sg vyattacfg -c "CMD"            run CMD as group vyattacfg
//	vtysh -c '...' [-c '...']        FRR's shell
//	/opt/vyatta/bin/vyatta-op-cmd-wrapper show ...   an operational command
//	show ...                         an operational command
type execer struct {
	user     string
	newShell func(user string) Shell
	vtysh    func(ctx context.Context, cmds []string, stdout, stderr io.Writer) int
	files    string // SFTP root; absolute script paths resolve under it
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	log      *slog.Logger
}

// maxScriptSize bounds a script read from stdin or a file.
const maxScriptSize = 16 << 20

func (x *execer) run(ctx context.Context, cmd string, depth int) int {
	if depth > 8 {
		fmt.Fprintln(x.stderr, "vbash: too many nested shells")
		return 1
	}
	argv, err := splitWords(cmd)
	if err != nil {
		fmt.Fprintf(x.stderr, "vbash: %v\n", err)
		return 2
	}
	if len(argv) == 0 {
		return 0
	}
	switch base := path.Base(argv[0]); base {
	case "sg":
		// sg GROUP -c CMD  |  sg GROUP CMD
		rest := argv[1:]
		if len(rest) > 0 {
			rest = rest[1:] // the group
		}
		if len(rest) > 0 && rest[0] == "-c" {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			fmt.Fprintln(x.stderr, "usage: sg group [[-c] command]")
			return 1
		}
		return x.run(ctx, strings.Join(rest, " "), depth+1)
	case "vbash", "bash", "sh":
		return x.shellCmd(ctx, base, argv[1:], depth)
	case "vtysh":
		return x.vtyshCmd(ctx, argv[1:])
	case "vyatta-op-cmd-wrapper":
		return x.op(ctx, joinWords(argv[1:]))
	case "true", ":":
		return 0
	case "exit":
		return 0
	}
	return x.op(ctx, cmd)
}

// shellCmd handles vbash/bash/sh with their options.
func (x *execer) shellCmd(ctx context.Context, name string, args []string, depth int) int {
	var cmdStr *string
	fromStdin := false
	var file string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if file != "" {
			break // script arguments
		}
		switch {
		case a == "--":
			if i+1 < len(args) && cmdStr == nil {
				file = args[i+1]
			}
			i = len(args)
		case a == "--login" || a == "--noprofile" || a == "--norc" || a == "--posix":
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, f := range a[1:] {
				switch f {
				case 'c':
					if i+1 >= len(args) {
						fmt.Fprintf(x.stderr, "%s: -c: option requires an argument\n", name)
						return 2
					}
					i++
					s := args[i]
					cmdStr = &s
				case 's':
					fromStdin = true
				case 'i', 'l', 'e', 'x', 'v':
				default:
					fmt.Fprintf(x.stderr, "%s: -%c: invalid option\n", name, f)
					return 2
				}
			}
		default:
			if cmdStr == nil {
				file = a
			}
		}
	}
	switch {
	case cmdStr != nil:
		return x.commandString(ctx, *cmdStr, depth)
	case file != "" && !fromStdin:
		b, err := x.readFile(file)
		if err != nil {
			fmt.Fprintf(x.stderr, "%s: %s: No such file or directory\n", name, file)
			x.log.Debug("script file", "path", file, "err", err)
			return 127
		}
		return x.script(ctx, string(b))
	default:
		b, err := io.ReadAll(io.LimitReader(x.stdin, maxScriptSize))
		if err != nil {
			fmt.Fprintf(x.stderr, "%s: read script from stdin: %v\n", name, err)
			return 1
		}
		return x.script(ctx, string(b))
	}
}

// commandString runs the argument of -c: a script when it has several
// lines or sources the script template, otherwise one command.
func (x *execer) commandString(ctx context.Context, s string, depth int) int {
	t := strings.TrimSpace(s)
	if strings.Contains(t, "\n") || strings.HasPrefix(t, "source ") || strings.HasPrefix(t, ". ") {
		return x.script(ctx, s)
	}
	return x.run(ctx, t, depth+1)
}

func (x *execer) script(ctx context.Context, script string) int {
	sh := x.newShell(x.user)
	return sh.RunScript(ctx, script, x.stdout, x.stderr)
}

// op runs one operational-mode command.
func (x *execer) op(ctx context.Context, line string) int {
	sh := x.newShell(x.user)
	w := &crlfWriter{w: x.stdout, raw: true}
	_, status := execTo(ctx, sh, line, w)
	if w.n > 0 && w.last != '\n' {
		io.WriteString(x.stdout, "\n")
	}
	return status
}

func (x *execer) vtyshCmd(ctx context.Context, args []string) int {
	var cmds []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-c" || a == "--command":
			if i+1 >= len(args) {
				fmt.Fprintln(x.stderr, "vtysh: option requires an argument -- 'c'")
				return 1
			}
			i++
			cmds = append(cmds, args[i])
		case strings.HasPrefix(a, "--command="):
			cmds = append(cmds, strings.TrimPrefix(a, "--command="))
		case a == "-N" || a == "--pathspace" || a == "--vty_socket" || a == "--config_dir" || a == "-d" || a == "--daemon":
			i++ // this router has one FRR instance; the option changes nothing
		case a == "-u" || a == "--user" || a == "-E" || a == "--echo" || a == "-q" || a == "--quiet":
		default:
			fmt.Fprintf(x.stderr, "vtysh: unsupported argument %q (use vtysh -c 'COMMAND')\n", a)
			return 1
		}
	}
	if len(cmds) == 0 {
		fmt.Fprintln(x.stderr, "vtysh: no command (interactive vtysh needs a terminal; use vtysh -c 'COMMAND')")
		return 1
	}
	if x.vtysh == nil {
		fmt.Fprintln(x.stderr, "vtysh: FRR is not running on this router")
		return 1
	}
	return x.vtysh(ctx, cmds, x.stdout, x.stderr)
}

func (x *execer) readFile(p string) ([]byte, error) {
	fp, err := resolvePath(x.files, "/home/"+x.user, p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(fp)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxScriptSize))
}

// resolvePath maps a path as the client sees it (absolute, or relative to
// home) to a file under root; it never leaves root.
func resolvePath(root, home, p string) (string, error) {
	if root == "" {
		return "", fmt.Errorf("no file area on this router")
	}
	if !strings.HasPrefix(p, "/") {
		p = home + "/" + p
	}
	clean := path.Clean("/" + p)
	return filepath.Join(root, filepath.FromSlash(clean)), nil
}

// splitWords splits a command line like a POSIX shell does for simple
// commands: blanks separate words; single quotes, double quotes and
// backslashes quote.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unexpected EOF while looking for matching `''")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unexpected EOF while looking for matching `\"'")
			}
		case c == '\\':
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
			}
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// joinWords joins words into a CLI line, quoting those with blanks.
func joinWords(ws []string) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		if w == "" || strings.ContainsAny(w, " \t'\"") {
			out[i] = "'" + strings.ReplaceAll(w, "'", `'"'"'`) + "'"
		} else {
			out[i] = w
		}
	}
	return strings.Join(out, " ")
}
