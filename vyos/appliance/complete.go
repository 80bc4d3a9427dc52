package appliance

import (
	"github.com/onp-lab/onp/vyos"
)

// completer adapts a Shell's completion to the line editor; a Shell with
// Help (vyos.Shell) also supplies VyOS's help texts for "?".
func completer(sh Shell) func(string) []candidate {
	if h, ok := sh.(interface {
		Help(string) []vyos.Completion
	}); ok {
		return func(line string) []candidate {
			var out []candidate
			for _, c := range h.Help(line) {
				out = append(out, candidate{Word: c.Word, Help: c.Help})
			}
			return out
		}
	}
	return func(line string) []candidate {
		var out []candidate
		for _, w := range sh.Complete(line) {
			out = append(out, candidate{Word: w})
		}
		return out
	}
}
