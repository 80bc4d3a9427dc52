package appliance

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// vt is a minimal terminal emulator: enough of xterm's behaviour (autowrap
// with a pending-wrap state, CR, LF, CSI cursor moves, clear) to check what
// the line editor draws.
type vt struct {
	w        int
	rows     [][]rune
	row, col int
	pending  bool
}

func newVT(w int) *vt { return &vt{w: w} }

func (t *vt) line(r int) []rune {
	for len(t.rows) <= r {
		t.rows = append(t.rows, []rune(strings.Repeat(" ", t.w)))
	}
	return t.rows[r]
}

func (t *vt) Write(p []byte) (int, error) {
	s := []rune(string(p))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			t.col, t.pending = 0, false
		case c == '\n':
			t.row++
			t.pending = false
		case c == '\a':
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[':
			j := i + 2
			n := 0
			has := false
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				n = n*10 + int(s[j]-'0')
				has = true
				j++
			}
			if !has {
				n = 1
			}
			if j >= len(s) {
				return len(p), nil
			}
			t.pending = false
			switch s[j] {
			case 'A':
				t.row -= n
				if t.row < 0 {
					t.row = 0
				}
			case 'B':
				t.row += n
			case 'C':
				t.col += n
				if t.col > t.w-1 {
					t.col = t.w - 1
				}
			case 'D':
				t.col -= n
				if t.col < 0 {
					t.col = 0
				}
			case 'H':
				t.row, t.col = 0, 0
			case 'J':
				t.rows = nil
			}
			i = j
		default:
			if t.pending {
				t.row++
				t.col = 0
				t.pending = false
			}
			t.line(t.row)[t.col] = c
			if t.col == t.w-1 {
				t.pending = true
			} else {
				t.col++
			}
		}
	}
	return len(p), nil
}

// text returns the screen rows [from, to) joined, right-trimmed.
func (t *vt) text(from, to int) string {
	var b strings.Builder
	for r := from; r < to; r++ {
		b.WriteString(string(t.line(r)))
	}
	return strings.TrimRight(b.String(), " ")
}

func cands(ws ...string) []candidate {
	var out []candidate
	for _, w := range ws {
		out = append(out, candidate{Word: w})
	}
	return out
}

func readAll(t *testing.T, input string, width int, complete func(string) []candidate) ([]string, *vt) {
	t.Helper()
	term := newVT(width)
	e := newLineEditor(strings.NewReader(input), term, width, complete)
	var lines []string
	for {
		l, err := e.ReadLine("vyos@vyos:~$ ")
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, errInterrupted) {
				t.Fatalf("ReadLine: %v", err)
			}
			return lines, term
		}
		e.AddHistory(l)
		lines = append(lines, l)
	}
}

func TestLineEditorKeys(t *testing.T) {
	words := func(string) []candidate { return cands("configure", "show", "set") }
	cases := []struct {
		name, in string
		want     []string
	}{
		{"plain", "show version\r", []string{"show version"}},
		{"crlf once", "a\r\nb\n", []string{"a", "b"}},
		{"backspace", "shox\x7fw\r", []string{"show"}},
		{"ctrl-h", "shox\x08w\r", []string{"show"}},
		{"left insert", "sow\x1b[D\x1b[Dh\r", []string{"show"}},
		{"ss3 arrows", "sow\x1bOD\x1bODh\r", []string{"show"}},
		{"ctrl-a ctrl-e", "how\x01s\x05 x\r", []string{"show x"}},
		{"ctrl-u", "garbage\x15show\r", []string{"show"}},
		{"ctrl-u mid", "abcdef\x1b[D\x1b[D\x15\r", []string{"ef"}},
		{"ctrl-k", "showxyz\x1b[D\x1b[D\x1b[D\x0b\r", []string{"show"}},
		{"ctrl-w", "show version\x17config\r", []string{"show config"}},
		{"ctrl-c cancels", "set foo\x03show\r", []string{"show"}},
		{"delete key", "sxhow\x01\x1b[C\x1b[3~\r", []string{"show"}},
		{"home end", "ow\x1b[Hsh\x1b[F!\r", []string{"show!"}},
		{"history up", "first\rsecond\r\x1b[A\x1b[A\r", []string{"first", "second", "first"}},
		{"history up down", "first\rtyping\x1b[A\x1b[B!\r", []string{"first", "typing!"}},
		{"ctrl-p ctrl-n", "one\rtwo\r\x10\x10\x0e\r", []string{"one", "two", "two"}},
		{"tab completes unique", "con\t\r", []string{"configure "}},
		{"tab common prefix", "s\t\r", []string{"s"}},
		{"tab list then type", "se\t\r", []string{"set "}},
		{"question lists", "s?how\r", []string{"show"}},
		{"question in quotes", "set x 'a?b'\r", []string{"set x 'a?b'"}},
		{"utf8", "set description 'héllo'\r", []string{"set description 'héllo'"}},
		{"controls ignored", "sh\x00\x07ow\r", []string{"show"}},
		{"ctrl-d deletes under cursor", "shxow\x1b[D\x1b[D\x1b[D\x04\r", []string{"show"}},
		{"ctrl-d eof", "show\r\x04ignored\r", []string{"show"}},
		{"unknown csi", "sh\x1b[1;5Zow\r", []string{"show"}},
		{"alt-b", "show version\x1bbx\r", []string{"show xversion"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _ := readAll(t, c.in, 80, words)
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("lines = %q, want %q", got, c.want)
			}
		})
	}
}

func TestLineEditorScreen(t *testing.T) {
	// A long line wraps; edits in the middle redraw; the screen ends up
	// showing exactly prompt + line.
	line := "set protocols bgp 64512 neighbor 192.168.126.2 address-family ipv4-unicast"
	in := line + "\x01\x1b[C\x1b[CXY\x7f\x7f\r"
	for _, w := range []int{20, 23, 37, 80} {
		lines, term := readAll(t, in, w, nil)
		if len(lines) != 1 || lines[0] != line {
			t.Fatalf("width %d: lines = %q", w, lines)
		}
		full := "vyos@vyos:~$ " + line
		rows := (utf8.RuneCountInString(full) + w - 1) / w
		if got := term.text(0, rows); got != full {
			t.Errorf("width %d: screen\n%q\nwant\n%q", w, got, full)
		}
	}
}

func TestLineEditorListing(t *testing.T) {
	term := newVT(80)
	var out bytes.Buffer
	e := newLineEditor(strings.NewReader("set ?\r"), io.MultiWriter(term, &out), 80, func(l string) []candidate {
		if l != "set " {
			t.Errorf("completer got %q", l)
		}
		return []candidate{{"interfaces", "Network interfaces"}, {"protocols", "Routing protocols"}, {"<text>", ""}}
	})
	if _, err := e.ReadLine("[edit]\nvyos@vyos# "); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"[edit]\r\nvyos@vyos# set ", "Possible completions:\r\n", "  interfaces            Network interfaces\r\n", "  protocols             Routing protocols\r\n", "  <text>\r\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%q", want, s)
		}
	}
	if strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
		t.Errorf("bare LF in output: %q", s)
	}
}

func TestLineEditorWindowChange(t *testing.T) {
	e := newLineEditor(strings.NewReader(""), io.Discard, 0, nil)
	if e.cols() != 80 {
		t.Fatalf("default width %d", e.cols())
	}
	e.SetWidth(132)
	if e.cols() != 132 {
		t.Fatalf("width %d", e.cols())
	}
	e.SetWidth(0)
	if e.cols() != 132 {
		t.Fatalf("width 0 accepted")
	}
}

func FuzzLineEditor(f *testing.F) {
	f.Add([]byte("show version\r"), uint8(80))
	f.Add([]byte("sow\x1b[D\x1b[Dh\x1b[A\x1b[B\x01\x05\x15\x03\x04"), uint8(20))
	f.Add([]byte("set ?\t\x1b[3~\x1bb\x1bf\x1b[1;5C\xff\xfe\xc3"), uint8(13))
	f.Add([]byte("\x1b[\x1bO\x1b"), uint8(1))
	complete := func(l string) []candidate {
		return cands("show", "set", "<x.x.x.x>", strconv.Itoa(len(l)), "é")
	}
	f.Fuzz(func(t *testing.T, in []byte, w uint8) {
		if len(in) > 1024 {
			in = in[:1024] // lines are short; keep each run fast
		}
		width := int(w)%200 + 1
		// 1: arbitrary bytes never panic and lines carry no control characters
		e := newLineEditor(bytes.NewReader(in), io.Discard, width, complete)
		for i := 0; i < 10000; i++ {
			l, err := e.ReadLine("[edit]\nvyos@vyos# ")
			if err != nil {
				break
			}
			if !utf8.ValidString(l) {
				t.Fatalf("invalid UTF-8 line %q", l)
			}
			for _, r := range l {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("control character in line %q", l)
				}
			}
			e.AddHistory(l)
		}
		// 2: editing keys only (no line ends, no screen clears): the screen
		// shows exactly prompt + line after Enter.
		var keys []byte
		for _, b := range in {
			switch b {
			case '\r', '\n', keyCtrlC, keyCtrlD, keyCtrlL, keyTab, '?', keyCtrlP, keyCtrlN:
				continue
			}
			if b == keyEsc {
				continue
			}
			if b >= 0x80 {
				continue
			}
			keys = append(keys, b)
		}
		if width < 2 {
			return
		}
		term := newVT(width)
		e = newLineEditor(bytes.NewReader(append(keys, '\r')), term, width, nil)
		l, err := e.ReadLine("vyos@vyos:~$ ")
		if err != nil {
			t.Fatalf("ReadLine: %v", err)
		}
		full := "vyos@vyos:~$ " + l
		rows := (utf8.RuneCountInString(full) + width - 1) / width
		if got := term.text(0, rows); got != strings.TrimRight(full, " ") {
			t.Fatalf("width %d keys %q: screen\n%q\nwant\n%q", width, keys, got, full)
		}
	})
}
