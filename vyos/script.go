package vyos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// RunScript runs a vbash script in VyOS's documented script-template form:
//
//	#!/bin/vbash
//	source /opt/vyatta/etc/functions/script-template
//	configure
//	set ...
//	commit
//	save
//	exit
//	run show ...
//
// Configuration commands (set, delete, commit, save, compare, show, ...)
// work after "configure"; operational commands need the "run" prefix, as on
// VyOS. "exit" leaves configuration mode (discarding what was not
// committed); outside it, "exit [N]" ends the script. Besides those, the
// script may use echo, true, false, "set -e"/"set +e" (stop at the first
// failing command) and "vtysh -c ...". The result is bash's: the status of
// the last command run. Rejected set/delete lines go to stderr, everything
// else to stdout.
func (s *Shell) RunScript(ctx context.Context, script string, stdout, stderr io.Writer) int {
	status := 0
	errexit := false
	lines := strings.Split(strings.ReplaceAll(script, "\r\n", "\n"), "\n")
	defer func() {
		if s.config {
			// The script's configuration session ends with the script.
			s.config, s.working, s.level = false, nil, nil
		}
	}()
	for i := 0; i < len(lines); i++ {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "vbash: interrupted\n")
			return 130
		}
		lineNo := i + 1
		line := lines[i]
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, "\\") + lines[i]
		}
		words, err := SplitLine(line)
		if err != nil {
			fmt.Fprintf(stderr, "vbash: line %d: %v\n", lineNo, err)
			return 2
		}
		if len(words) == 0 {
			continue
		}
		status = s.scriptCmd(ctx, words, lineNo, status, stdout, stderr, &errexit)
		if status < 0 { // exit
			return -status - 1
		}
		if status != 0 && errexit {
			return status
		}
	}
	return status
}

// scriptCmd runs one script line; last is the previous command's status.
// A negative result -(N+1) means "exit N".
func (s *Shell) scriptCmd(ctx context.Context, words []string, lineNo, last int, stdout, stderr io.Writer, errexit *bool) int {
	switch words[0] {
	case "source", ".":
		return 0
	case "echo":
		args := words[1:]
		nl := true
		if len(args) > 0 && args[0] == "-n" {
			nl, args = false, args[1:]
		}
		io.WriteString(stdout, strings.Join(args, " "))
		if nl {
			io.WriteString(stdout, "\n")
		}
		return 0
	case "true", ":":
		return 0
	case "false":
		return 1
	case "configure":
		if !s.config {
			s.enterConfig()
		}
		return 0
	case "exit":
		if s.config {
			// script-template's exit ends the configuration session
			// without the interactive checks.
			s.config, s.working, s.level = false, nil, nil
			return 0
		}
		code := last // bash: exit without a number keeps the last status
		if len(words) > 1 {
			n, err := strconv.Atoi(words[1])
			if err != nil {
				fmt.Fprintf(stderr, "vbash: line %d: exit: %s: numeric argument required\n", lineNo, words[1])
				n = 2
			}
			code = n & 0xff
		}
		return -(code + 1)
	case "vtysh", "/usr/bin/vtysh":
		var cmds []string
		for j := 1; j < len(words); j++ {
			if words[j] == "-c" && j+1 < len(words) {
				cmds = append(cmds, words[j+1])
				j++
			}
		}
		if len(cmds) == 0 {
			fmt.Fprintf(stderr, "vbash: line %d: vtysh: only -c commands are supported in scripts\n", lineNo)
			return 1
		}
		out, err := s.r.opts.FRR.Vtysh(ctx, cmds...)
		io.WriteString(stdout, out)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case "set":
		if len(words) > 1 && (strings.HasPrefix(words[1], "-") || strings.HasPrefix(words[1], "+")) {
			// bash's own set: only errexit matters here.
			for _, w := range words[1:] {
				if strings.HasPrefix(w, "-") && strings.Contains(w, "e") {
					*errexit = true
				}
				if strings.HasPrefix(w, "+") && strings.Contains(w, "e") {
					*errexit = false
				}
			}
			return 0
		}
	}
	if words[0] == "run" {
		if len(words) == 1 {
			io.WriteString(stdout, "\n  Incomplete command: run\n\n")
			return 1
		}
		_, st := s.opCmd(ctx, words[1:], stdout)
		return st
	}
	if s.config {
		var buf bytes.Buffer
		_, st := s.configCmd(ctx, words, &buf)
		w := stdout
		if st != 0 && (words[0] == "set" || words[0] == "delete" || words[0] == "edit") {
			w = stderr
		}
		w.Write(buf.Bytes())
		return st
	}
	switch words[0] {
	case "set", "delete", "commit", "save", "compare", "discard", "edit", "show", "top", "up":
		fmt.Fprintf(stderr, "vbash: line %d: %s: not in configuration mode (run \"configure\" first)\n", lineNo, words[0])
		return 1
	}
	fmt.Fprintf(stderr, "vbash: line %d: %s: command not found\n", lineNo, words[0])
	return 127
}
