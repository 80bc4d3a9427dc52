package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

const (
	red   = "31"
	green = "32"
	bold  = "1"
	dim   = "2"
)

// ui prints phase lines kind-style: on a terminal a line per phase that
// turns into ✓ or ✗ when it ends; elsewhere one plain line per ended phase.
type ui struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	verbose int
}

func newUI(w io.Writer, verbose int) *ui {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" && os.Getenv("NO_COLOR") == ""
	}
	return &ui{w: w, tty: tty, verbose: verbose}
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

func (a *app) colorize(s, code string) string {
	if !isTTY(a.stderr) {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func paint(tty bool, s, code string) string {
	if !tty {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Phase implements lab.Progress.
func (u *ui) Phase(msg string) func(error) {
	start := time.Now()
	if u.tty && u.verbose == 0 {
		u.mu.Lock()
		fmt.Fprintf(u.w, " • %s ...", msg)
		u.mu.Unlock()
	} else if u.verbose > 0 {
		fmt.Fprintf(u.w, " • %s ...\n", msg)
	}
	return func(err error) {
		u.mu.Lock()
		defer u.mu.Unlock()
		d := time.Since(start)
		mark := paint(u.tty, "✓", green)
		if err != nil {
			mark = paint(u.tty, "✗", red)
		}
		if u.tty && u.verbose == 0 {
			fmt.Fprint(u.w, "\r\x1b[K")
		}
		fmt.Fprintf(u.w, " %s %s %s\n", mark, msg, paint(u.tty, fmtDuration(d), dim))
	}
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
}

// table writes aligned columns.
func table(w io.Writer, header []string, rows [][]string) {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = len([]rune(h))
	}
	for _, r := range rows {
		for i, c := range r {
			if i < len(widths) && len([]rune(c)) > widths[i] {
				widths[i] = len([]rune(c))
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i == len(cells)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+3))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
}
