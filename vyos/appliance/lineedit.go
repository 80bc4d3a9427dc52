package appliance

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// errInterrupted is returned by readLine when the client closed the input
// stream in the middle of a line; the partial line is discarded.
var errInterrupted = errors.New("input closed")

// Key codes the line editor acts on.
const (
	keyCtrlA     = 0x01
	keyCtrlB     = 0x02
	keyCtrlC     = 0x03
	keyCtrlD     = 0x04
	keyCtrlE     = 0x05
	keyCtrlF     = 0x06
	keyCtrlH     = 0x08
	keyTab       = 0x09
	keyLF        = 0x0a
	keyCtrlK     = 0x0b
	keyCtrlL     = 0x0c
	keyCR        = 0x0d
	keyCtrlN     = 0x0e
	keyCtrlP     = 0x10
	keyCtrlU     = 0x15
	keyCtrlW     = 0x17
	keyEsc       = 0x1b
	keyBackspace = 0x7f
)

// maxLineRunes bounds one input line; further input is dropped.
const maxLineRunes = 16 << 10

// maxHistory bounds the remembered lines.
const maxHistory = 500

// lineEditor is a small readline for a raw SSH channel: it echoes what the
// user types, moves the cursor, keeps a history and asks a completer for the
// next words. Output uses \r\n line endings and is width aware so that lines
// longer than the terminal wrap and redraw correctly.
type lineEditor struct {
	in  *bufio.Reader
	out io.Writer

	mu    sync.Mutex // guards width (window-change arrives on another goroutine)
	width int

	// complete returns candidate next words for the text left of the cursor.
	complete func(line string) []candidate

	history []string

	// state of the line being edited
	prompt  string // last line of the prompt (what the cursor sits after)
	buf     []rune
	pos     int  // cursor index into buf
	cur     int  // where the terminal cursor is, as a column offset from the start of the prompt line
	afterCR bool // the previous key was CR: swallow a following LF
	wbuf    []byte
}

// candidate is a possible next word ("<x.x.x.x>" for a value format) and
// its help text.
type candidate struct {
	Word, Help string
}

func newLineEditor(in io.Reader, out io.Writer, width int, complete func(string) []candidate) *lineEditor {
	if width <= 0 {
		width = 80
	}
	return &lineEditor{in: bufio.NewReaderSize(in, 4096), out: out, width: width, complete: complete}
}

// SetWidth changes the terminal width (window-change request).
func (e *lineEditor) SetWidth(w int) {
	if w <= 0 {
		return
	}
	if w > 4096 {
		w = 4096
	}
	e.mu.Lock()
	e.width = w
	e.mu.Unlock()
}

func (e *lineEditor) cols() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.width
}

// AddHistory appends a line to the history (not empty, not a repeat of the last one).
func (e *lineEditor) AddHistory(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	if n := len(e.history); n > 0 && e.history[n-1] == line {
		return
	}
	e.history = append(e.history, line)
	if len(e.history) > maxHistory {
		e.history = e.history[len(e.history)-maxHistory:]
	}
}

// ReadLine prints prompt (which may span several lines) and returns the line
// the user entered. Ctrl-D on an empty line returns io.EOF; a closed input
// returns io.EOF (empty line) or errInterrupted (a partial line).
func (e *lineEditor) ReadLine(prompt string) (string, error) {
	e.buf = e.buf[:0]
	e.pos = 0
	e.cur = 0
	head, last := splitPrompt(prompt)
	e.prompt = last
	e.writePrompt(head, last)
	if err := e.flush(); err != nil {
		return "", err
	}
	histIdx := len(e.history)
	var saved []rune // the line being typed when the user walked into history

	for {
		r, err := e.readRune()
		if err != nil {
			if len(e.buf) == 0 {
				return "", io.EOF
			}
			return "", errInterrupted
		}
		if e.afterCR {
			e.afterCR = false
			if r == keyLF {
				continue
			}
		}
		switch r {
		case keyCR, keyLF:
			e.afterCR = r == keyCR
			line := string(e.buf)
			e.moveTo(e.promptLen() + len(e.buf))
			e.writeString("\r\n")
			e.cur = 0
			if err := e.flush(); err != nil {
				return "", err
			}
			return line, nil
		case keyCtrlC:
			e.moveTo(e.promptLen() + len(e.buf))
			e.writeString("^C\r\n")
			e.buf = e.buf[:0]
			e.pos = 0
			histIdx = len(e.history)
			saved = nil
			e.writePrompt(head, last)
		case keyCtrlD:
			if len(e.buf) == 0 {
				e.writeString("\r\n")
				e.flush()
				return "", io.EOF
			}
			e.deleteAt(e.pos)
		case keyCtrlA:
			e.setPos(0)
		case keyCtrlE:
			e.setPos(len(e.buf))
		case keyCtrlB:
			e.setPos(e.pos - 1)
		case keyCtrlF:
			e.setPos(e.pos + 1)
		case keyBackspace, keyCtrlH:
			if e.pos > 0 {
				e.setPos(e.pos - 1)
				e.deleteAt(e.pos)
			}
		case keyCtrlU:
			e.deleteRange(0, e.pos)
		case keyCtrlK:
			e.deleteRange(e.pos, len(e.buf))
		case keyCtrlW:
			e.deleteRange(wordStart(e.buf, e.pos), e.pos)
		case keyCtrlL:
			e.writeString("\x1b[H\x1b[2J")
			e.cur = 0
			e.writePrompt(head, last)
			e.redrawFrom(0)
		case keyCtrlP:
			histIdx, saved = e.historyMove(histIdx, -1, saved)
		case keyCtrlN:
			histIdx, saved = e.historyMove(histIdx, +1, saved)
		case keyTab:
			e.completeWord(head, last, false)
		case keyEsc:
			switch e.readEscape() {
			case "up":
				histIdx, saved = e.historyMove(histIdx, -1, saved)
			case "down":
				histIdx, saved = e.historyMove(histIdx, +1, saved)
			case "right":
				e.setPos(e.pos + 1)
			case "left":
				e.setPos(e.pos - 1)
			case "home":
				e.setPos(0)
			case "end":
				e.setPos(len(e.buf))
			case "delete":
				e.deleteAt(e.pos)
			case "word-left":
				e.setPos(wordStart(e.buf, e.pos))
			case "word-right":
				e.setPos(wordEnd(e.buf, e.pos))
			}
		default:
			if r == '?' && !inQuotes(e.buf[:e.pos]) {
				e.completeWord(head, last, true)
				break
			}
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
				break // other control characters are ignored
			}
			e.insert(r)
		}
		if err := e.flush(); err != nil {
			return "", err
		}
	}
}

// readRune reads one UTF-8 encoded rune; invalid bytes come back as
// utf8.RuneError and are ignored by the caller.
func (e *lineEditor) readRune() (rune, error) {
	r, _, err := e.in.ReadRune()
	return r, err
}

// readEscape consumes an escape sequence after ESC and names the key.
func (e *lineEditor) readEscape() string {
	b, err := e.in.ReadByte()
	if err != nil {
		return ""
	}
	switch b {
	case 'b', 'B':
		return "word-left"
	case 'f', 'F':
		return "word-right"
	case 'O': // SS3: ESC O A (application cursor keys)
		c, err := e.in.ReadByte()
		if err != nil {
			return ""
		}
		return csiKey(c, "")
	case '[':
	default:
		return ""
	}
	// CSI: parameters 0x30–0x3f, intermediates 0x20–0x2f, final 0x40–0x7e.
	var params []byte
	for i := 0; i < 32; i++ {
		c, err := e.in.ReadByte()
		if err != nil {
			return ""
		}
		if c >= 0x40 && c <= 0x7e {
			return csiKey(c, string(params))
		}
		if c < 0x20 || c > 0x3f {
			return "" // malformed: give up on the sequence
		}
		params = append(params, c)
	}
	return ""
}

func csiKey(final byte, params string) string {
	switch final {
	case 'A':
		return "up"
	case 'B':
		return "down"
	case 'C':
		if strings.HasSuffix(params, ";5") || strings.HasSuffix(params, ";3") {
			return "word-right"
		}
		return "right"
	case 'D':
		if strings.HasSuffix(params, ";5") || strings.HasSuffix(params, ";3") {
			return "word-left"
		}
		return "left"
	case 'H':
		return "home"
	case 'F':
		return "end"
	case '~':
		switch params {
		case "1", "7":
			return "home"
		case "4", "8":
			return "end"
		case "3":
			return "delete"
		}
	}
	return ""
}

func (e *lineEditor) promptLen() int { return runeWidth(e.prompt) }

func (e *lineEditor) insert(r rune) {
	if len(e.buf) >= maxLineRunes {
		return
	}
	e.buf = append(e.buf, 0)
	copy(e.buf[e.pos+1:], e.buf[e.pos:])
	e.buf[e.pos] = r
	e.redrawFrom(e.pos)
	e.pos++
	e.moveTo(e.promptLen() + e.pos)
}

func (e *lineEditor) deleteAt(i int) {
	if i < 0 || i >= len(e.buf) {
		return
	}
	e.deleteRange(i, i+1)
}

// deleteRange removes buf[from:to] and redraws the rest of the line.
func (e *lineEditor) deleteRange(from, to int) {
	if from < 0 {
		from = 0
	}
	if to > len(e.buf) {
		to = len(e.buf)
	}
	if from >= to {
		return
	}
	n := to - from
	e.buf = append(e.buf[:from], e.buf[to:]...)
	e.pos = from
	e.redrawFrom(from)
	// blank the cells the removed text occupied at the end
	e.moveTo(e.promptLen() + len(e.buf))
	e.writeSpaces(n)
	e.moveTo(e.promptLen() + e.pos)
}

// replaceLine swaps the whole buffer (history) and leaves the cursor at its end.
func (e *lineEditor) replaceLine(r []rune) {
	old := len(e.buf)
	e.buf = append(e.buf[:0], r...)
	if len(e.buf) > maxLineRunes {
		e.buf = e.buf[:maxLineRunes]
	}
	e.pos = 0
	e.redrawFrom(0)
	if old > len(e.buf) {
		e.moveTo(e.promptLen() + len(e.buf))
		e.writeSpaces(old - len(e.buf))
	}
	e.pos = len(e.buf)
	e.moveTo(e.promptLen() + e.pos)
}

func (e *lineEditor) historyMove(idx, dir int, saved []rune) (int, []rune) {
	n := idx + dir
	if n < 0 || n > len(e.history) {
		return idx, saved
	}
	if idx == len(e.history) {
		saved = append([]rune(nil), e.buf...)
	}
	if n == len(e.history) {
		e.replaceLine(saved)
	} else {
		e.replaceLine([]rune(e.history[n]))
	}
	return n, saved
}

// redrawFrom writes buf[i:] starting at its position on the screen.
func (e *lineEditor) redrawFrom(i int) {
	if i < 0 {
		i = 0
	}
	if i > len(e.buf) {
		return
	}
	e.moveTo(e.promptLen() + i)
	e.writeRunes(e.buf[i:])
}

func (e *lineEditor) setPos(p int) {
	if p < 0 {
		p = 0
	}
	if p > len(e.buf) {
		p = len(e.buf)
	}
	e.pos = p
	e.moveTo(e.promptLen() + p)
}

// writeRunes writes text at the terminal cursor and tracks where the cursor
// ends up. When the text ends exactly at the right margin the terminal is in
// its pending-wrap state; a CR LF makes the position unambiguous.
func (e *lineEditor) writeRunes(rs []rune) {
	if len(rs) == 0 {
		return
	}
	for _, r := range rs {
		e.wbuf = utf8.AppendRune(e.wbuf, r)
	}
	e.cur += len(rs)
	if e.cur%e.cols() == 0 {
		e.wbuf = append(e.wbuf, '\r', '\n')
	}
}

func (e *lineEditor) writeSpaces(n int) {
	if n <= 0 {
		return
	}
	e.writeRunes([]rune(strings.Repeat(" ", n)))
}

// moveTo moves the terminal cursor to column offset target (counted from the
// start of the prompt line, wrapping at the terminal width).
func (e *lineEditor) moveTo(target int) {
	w := e.cols()
	fromRow, fromCol := e.cur/w, e.cur%w
	toRow, toCol := target/w, target%w
	switch {
	case toRow < fromRow:
		e.wbuf = append(e.wbuf, csi(fromRow-toRow, 'A')...)
	case toRow > fromRow:
		e.wbuf = append(e.wbuf, csi(toRow-fromRow, 'B')...)
	}
	switch {
	case toCol == 0 && fromCol != 0:
		e.wbuf = append(e.wbuf, '\r')
	case toCol < fromCol:
		e.wbuf = append(e.wbuf, csi(fromCol-toCol, 'D')...)
	case toCol > fromCol:
		e.wbuf = append(e.wbuf, csi(toCol-fromCol, 'C')...)
	}
	e.cur = target
}

func csi(n int, final byte) []byte {
	b := []byte{keyEsc, '['}
	if n != 1 {
		b = appendInt(b, n)
	}
	return append(b, final)
}

func appendInt(b []byte, n int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// writePrompt writes the prompt lines at the start of a line and leaves the
// cursor after the last one.
func (e *lineEditor) writePrompt(head, last string) {
	e.writeString(crlf(head))
	e.cur = 0
	e.writeRunes([]rune(last))
}

func (e *lineEditor) writeString(s string) {
	e.wbuf = append(e.wbuf, s...)
}

func (e *lineEditor) flush() error {
	if len(e.wbuf) == 0 {
		return nil
	}
	_, err := e.out.Write(e.wbuf)
	e.wbuf = e.wbuf[:0]
	return err
}

// completeWord handles tab (list=false) and '?' (list=true).
func (e *lineEditor) completeWord(head, last string, list bool) {
	if e.complete == nil {
		return
	}
	left := string(e.buf[:e.pos])
	partial := ""
	if i := strings.LastIndexAny(left, " \t"); i >= 0 {
		partial = left[i+1:]
	} else {
		partial = left
	}
	var cands []candidate
	seen := map[string]bool{}
	for _, c := range e.complete(left) {
		if c.Word == "" || seen[c.Word] {
			continue
		}
		if strings.HasPrefix(c.Word, partial) || strings.HasPrefix(c.Word, "<") {
			seen[c.Word] = true
			cands = append(cands, c)
		}
	}
	var words []string // candidates that can be typed
	for _, c := range cands {
		if !strings.HasPrefix(c.Word, "<") {
			words = append(words, c.Word)
		}
	}
	if !list && len(words) > 0 {
		prefix := commonPrefix(words)
		if len(words) == 1 && len(cands) == 1 {
			prefix += " "
		}
		if len(prefix) > len(partial) {
			for _, r := range prefix[len(partial):] {
				e.insert(r)
			}
			return
		}
	}
	if !list && len(cands) == 0 {
		e.writeString("\a")
		return
	}
	// list the candidates as VyOS does, then redraw prompt and line
	e.moveTo(e.promptLen() + len(e.buf))
	e.writeString("\r\nPossible completions:\r\n")
	if len(cands) == 0 {
		e.writeString("  <Enter>               Execute the current command\r\n")
	}
	width := 0
	for _, c := range cands {
		width = max(width, runeWidth(c.Word))
	}
	width = max(width+2, 22)
	for _, c := range cands {
		line := "  " + c.Word
		if c.Help != "" {
			line += strings.Repeat(" ", width-runeWidth(c.Word)) + c.Help
		}
		e.writeString(line + "\r\n")
	}
	e.writeString("\r\n")
	e.writePrompt(head, last)
	e.redrawFrom(0)
	e.moveTo(e.promptLen() + e.pos)
}

func commonPrefix(ws []string) string {
	if len(ws) == 0 {
		return ""
	}
	p := ws[0]
	for _, w := range ws[1:] {
		for !strings.HasPrefix(w, p) {
			p = p[:len(p)-1]
		}
	}
	// do not cut a UTF-8 sequence in half
	for len(p) > 0 && !utf8.ValidString(p) {
		p = p[:len(p)-1]
	}
	return p
}

func inQuotes(rs []rune) bool {
	var q rune
	for _, r := range rs {
		switch {
		case q == 0 && (r == '\'' || r == '"'):
			q = r
		case q != 0 && r == q:
			q = 0
		}
	}
	return q != 0
}

func wordStart(buf []rune, pos int) int {
	i := pos
	for i > 0 && buf[i-1] == ' ' {
		i--
	}
	for i > 0 && buf[i-1] != ' ' {
		i--
	}
	return i
}

func wordEnd(buf []rune, pos int) int {
	i := pos
	for i < len(buf) && buf[i] == ' ' {
		i++
	}
	for i < len(buf) && buf[i] != ' ' {
		i++
	}
	return i
}

// splitPrompt splits a prompt into the lines before the last one and the last
// line, which the cursor follows.
func splitPrompt(p string) (head, last string) {
	if i := strings.LastIndexByte(p, '\n'); i >= 0 {
		return p[:i+1], p[i+1:]
	}
	return "", p
}

func runeWidth(s string) int { return utf8.RuneCountInString(s) }

// crlf turns bare \n into \r\n for a terminal.
func crlf(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' && (i == 0 || s[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(c)
	}
	return b.String()
}
