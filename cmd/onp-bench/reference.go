package main

import (
	"fmt"
	"os/exec"
	"strings"
	"time"
)

func init() {
	suites = append(suites, suite{"reference lab", referenceLab}, suite{"scenario catalogue", catalogue})
}

// referenceLab measures `onp up` of the reference lab until every check
// passed (it exits 0 only then), and `onp down`.
func referenceLab(b *bench) ([]row, error) {
	up := row{name: "onp up (reference lab) → all checks PASS", target: 3 * time.Second, note: "5 checks: sessions both ends, route+community+local-pref, FIB, EXTERNAL-IP, HTTP through the router"}
	down := row{name: "onp down (reference lab)", target: time.Second}
	for i := 0; i < b.runs; i++ {
		name := fmt.Sprintf("bref%d", i)
		d, err := b.onpCmd("up", "--name", name)
		if err != nil {
			b.onpCmd("down", name)
			return nil, err
		}
		up.samples = append(up.samples, d)
		d, err = b.onpCmd("down", name)
		if err != nil {
			return nil, err
		}
		down.samples = append(down.samples, d)
	}
	return []row{up, down}, nil
}

// catalogue runs every built-in scenario, two at a time, once.
func catalogue(b *bench) ([]row, error) {
	out, err := exec.Command(b.onp, "--home", b.home, "scenario", "list", "-o", "json").Output()
	if err != nil {
		return nil, fmt.Errorf("scenario list: %v", err)
	}
	var names []string
	for _, f := range strings.Split(string(out), "\"name\": \"")[1:] {
		names = append(names, f[:strings.IndexByte(f, '"')])
	}
	args := append([]string{"scenario", "run", "--parallel", "2"}, names...)
	d, err := b.onpCmd(args...)
	if err != nil {
		return nil, err
	}
	return []row{{name: fmt.Sprintf("whole catalogue (%d scenarios, --parallel 2)", len(names)), samples: []time.Duration{d}, target: 60 * time.Second, note: "one run"}}, nil
}
