package vyos

import (
	"os"
	"strings"
	"testing"
)

func FuzzSplitLine(f *testing.F) {
	for _, s := range []string{"set a 'b c' \"d\\\"e\" f\\ g # c", "'", "\"\\", "a\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitLine(s)
		if err != nil {
			return
		}
		// Quoting the words and splitting again gives them back.
		var q []string
		for _, w := range words {
			q = append(q, quoteWord(w))
		}
		again, err := SplitLine(strings.Join(q, " "))
		if err != nil || strings.Join(again, "\x00") != strings.Join(words, "\x00") {
			t.Fatalf("%q -> %q -> %q (%v)", s, words, again, err)
		}
	})
}

// FuzzConfigLines feeds arbitrary set/delete lines to both dialects and
// checks that nothing panics and that what was accepted survives
// config.boot and set-command round trips.
func FuzzConfigLines(f *testing.F) {
	// Small seeds (a few lines each) keep the fuzzer fast; the render
	// cases give it the vocabulary.
	for _, name := range []string{"full14", "full13", "seed13"} {
		b, err := os.ReadFile("testdata/render/" + name + ".cmds")
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i += 4 {
			end := i + 4
			if end > len(lines) {
				end = len(lines)
			}
			f.Add(strings.Join(lines[i:end], "\n"))
		}
	}
	f.Add("set interfaces ethernet eth0 description '{};*'\ndelete interfaces\nset protocols bgp 1 neighbor 1.1.1.1 remote-as 2")
	f.Fuzz(func(t *testing.T, text string) {
		for _, d := range []Dialect{V13, V14} {
			c := NewConfig(d)
			for _, line := range strings.Split(text, "\n") {
				words, err := SplitLine(line)
				if err != nil || len(words) == 0 {
					continue
				}
				switch words[0] {
				case "set":
					c.Set(words[1:]...)
				case "delete":
					c.Delete(words[1:]...)
				}
			}
			_ = c.String()
			_ = Render(c)
			_ = Verify(c, VerifyEnv{})
			_ = compare(NewConfig(d), c)
			_ = showAt(NewConfig(d), c, nil)
			back, err := ParseBoot(d, c.Boot())
			if err != nil {
				t.Fatalf("%s: config.boot does not read back: %v\n%s", d, err, c.Boot())
			}
			if !back.Equal(c) {
				t.Fatalf("%s: config.boot round trip differs:\n%s", d, c.Boot())
			}
			again, err := ParseCommands(d, strings.Join(c.Commands(), "\n"))
			if err != nil {
				t.Fatalf("%s: commands do not read back: %v", d, err)
			}
			if !sameExplicit(again, c) {
				t.Fatalf("%s: commands round trip differs:\n%s", d, strings.Join(c.Commands(), "\n"))
			}
		}
	})
}

// sameExplicit compares two trees ignoring leaves that hold defaults.
func sameExplicit(a, b *Config) bool {
	return strings.Join(a.Commands(), "\n") == strings.Join(b.Commands(), "\n")
}

func FuzzParseBoot(f *testing.F) {
	f.Add("interfaces {\n    ethernet eth0 {\n        address 192.0.2.1/24\n    }\n}\n/* c */\n// x\n")
	f.Add("protocols { bgp 1 {\n}\n}\n")
	f.Fuzz(func(t *testing.T, text string) {
		for _, d := range []Dialect{V13, V14} {
			c, err := ParseBoot(d, text)
			if err != nil {
				continue
			}
			if _, err := ParseBoot(d, c.Boot()); err != nil {
				t.Fatalf("re-parse: %v", err)
			}
		}
	})
}
