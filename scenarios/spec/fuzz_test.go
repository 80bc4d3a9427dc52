package spec

import "testing"

func FuzzParseFile(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte("checks: [{type: ping}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := ParseFile("f.yaml", data, testLab)
		if err == nil && len(cs) == 0 {
			t.Fatal("no checks and no error")
		}
	})
}
