package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func init() {
	suites = append(suites, suite{"workshop", workshopBench})
}

// workshopStudents is the class size of the benchmark.
const workshopStudents = 30

// memTarget is the memory target per lab.
const memTarget = 64 << 20

// workshopBench builds a workshop of 30 reference labs, waits until every
// lab's checks pass, and measures the memory of everything onp runs for
// each lab: every process in the lab's namespaces (the supervisor in the
// fabric; the cluster agent and the speaker in sno4; the router appliance
// and its FRR daemons in vyos). RSS counts a page once per process that
// maps it, so the onp binary's text (shared by the four onp processes of
// every lab) and the FRR libraries are counted many times over; PSS divides
// each shared page among the processes that share it, so the PSS of all
// labs adds up to the memory they really use. The target is judged on PSS.
func workshopBench(b *bench) ([]row, error) {
	name := "bw"
	start := time.Now()
	_, err := b.onpCmd("workshop", "up", "--students", strconv.Itoa(workshopStudents), "--name", name)
	took := time.Since(start)
	defer b.onpCmd("workshop", "down", "--name", name)
	if err != nil {
		return nil, err
	}
	up := row{name: fmt.Sprintf("onp workshop up --students %d (reference lab)", workshopStudents), samples: []time.Duration{took}, target: 60 * time.Second,
		note: fmt.Sprintf("one run; %.2f s per lab", took.Seconds()/workshopStudents)}

	// Every lab healthy (sessions up, route, HTTP) before measuring.
	settle := time.Now()
	if err := b.workshopHealthy(name); err != nil {
		return []row{up}, err
	}
	healthy := row{name: "… until every lab's checks pass", samples: []time.Duration{took + time.Since(settle)}, note: "onp workshop status --wait 30s"}

	var labs []string
	for i := 1; i <= workshopStudents; i++ {
		labs = append(labs, fmt.Sprintf("%s-s%02d", name, i))
	}
	mem, err := labsMemory(labs)
	if err != nil {
		return []row{up, healthy}, err
	}
	var rss, pss, maxRSS, maxPSS uint64
	for _, l := range labs {
		m := mem[l]
		rss += m.total.rss
		pss += m.total.pss
		maxRSS = max(maxRSS, m.total.rss)
		maxPSS = max(maxPSS, m.total.pss)
	}
	n := uint64(len(labs))
	verdict := "PASS"
	if pss/n > memTarget {
		verdict = "MISS"
	}
	rows := []row{up, healthy,
		{name: "memory per lab, PSS (the target)", note: fmt.Sprintf("%s mean, %s max; target ≤ %s: %s", mib(pss/n), mib(maxPSS), mib(memTarget), verdict)},
		{name: "memory per lab, RSS", note: fmt.Sprintf("%s mean, %s max (shared pages counted once per process)", mib(rss/n), mib(maxRSS))},
	}
	// Where it goes: the mean per process kind.
	kinds := map[string]*memUse{}
	for _, l := range labs {
		for k, u := range mem[l].byKind {
			if kinds[k] == nil {
				kinds[k] = &memUse{}
			}
			kinds[k].rss += u.rss
			kinds[k].pss += u.pss
			kinds[k].anon += u.anon
		}
	}
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return kinds[names[i]].pss > kinds[names[j]].pss })
	for _, k := range names {
		u := kinds[k]
		rows = append(rows, row{name: "  " + k, note: fmt.Sprintf("PSS %s, RSS %s, private anonymous %s", mib(u.pss/n), mib(u.rss/n), mib(u.anon/n))})
	}
	return rows, nil
}

// workshopHealthy waits until every student's checks pass.
func (b *bench) workshopHealthy(name string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		cmd := exec.Command(b.onp, "--home", b.home, "workshop", "status", "--name", name, "--wait", "30s", "-o", "json")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var st struct {
			Students []struct {
				Lab     string `json:"lab"`
				Error   string `json:"error"`
				Summary *struct {
					Passed  int      `json:"passed"`
					Failing []string `json:"failing"`
				} `json:"summary"`
			} `json:"students"`
		}
		var bad []string
		if err == nil && json.Unmarshal(out.Bytes(), &st) == nil {
			for _, s := range st.Students {
				if s.Summary == nil || len(s.Summary.Failing) > 0 || s.Summary.Passed == 0 {
					bad = append(bad, fmt.Sprintf("%s %s %v", s.Lab, s.Error, s.Summary))
				}
			}
			if len(bad) == 0 && len(st.Students) == workshopStudents {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("labs not healthy after 2 minutes: %v %v %s", bad, err, errb.String())
		}
	}
}

type memUse struct{ rss, pss, anon uint64 }

type labMem struct {
	total  memUse
	byKind map[string]memUse
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// labsMemory sums the memory of the processes in each lab's namespaces
// (the fabric onp-LAB and the nodes onp-LAB.*, pods included), by the
// namespace each process's network namespace is.
func labsMemory(labs []string) (map[string]*labMem, error) {
	byIno := map[uint64]string{}
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		for _, l := range labs {
			if e.Name() == "onp-"+l || strings.HasPrefix(e.Name(), "onp-"+l+".") {
				var st syscall.Stat_t
				if syscall.Stat(filepath.Join("/run/netns", e.Name()), &st) == nil {
					byIno[st.Ino] = l
				}
			}
		}
	}
	out := map[string]*labMem{}
	for _, l := range labs {
		out[l] = &labMem{byKind: map[string]memUse{}}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", p.Name(), "ns/net"), &st) != nil {
			continue
		}
		l, ok := byIno[st.Ino]
		if !ok {
			continue
		}
		u, err := smapsRollup(filepath.Join("/proc", p.Name(), "smaps_rollup"))
		if err != nil {
			continue // a kernel thread or a process that just ended
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		k := procKind(strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"))
		m := out[l]
		m.total.rss += u.rss
		m.total.pss += u.pss
		m.total.anon += u.anon
		ku := m.byKind[k]
		ku.rss += u.rss
		ku.pss += u.pss
		ku.anon += u.anon
		m.byKind[k] = ku
	}
	return out, nil
}

// procKind names what a process of a lab is.
func procKind(argv []string) string {
	if len(argv) == 0 {
		return "?"
	}
	if strings.HasPrefix(argv[0], "/usr/lib/frr/") {
		return "FRR " + filepath.Base(argv[0])
	}
	for _, a := range argv[1:] {
		switch a {
		case "__supervise":
			return "onp supervisor"
		case "__cluster-agent":
			return "onp cluster agent"
		case "speaker":
			return "onp speaker"
		case "__vyos-router":
			return "onp router appliance"
		}
	}
	return filepath.Base(argv[0])
}

// smapsRollup reads Rss, Pss and Private_Dirty anonymous memory (kB) of a
// process.
func smapsRollup(path string) (memUse, error) {
	f, err := os.Open(path)
	if err != nil {
		return memUse{}, err
	}
	defer f.Close()
	var u memUse
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		v, err := strconv.ParseUint(fs[1], 10, 64)
		if err != nil {
			continue
		}
		switch fs[0] {
		case "Rss:":
			u.rss, found = v<<10, true
		case "Pss:":
			u.pss = v << 10
		case "Anonymous:":
			u.anon = v << 10
		}
	}
	if !found {
		return memUse{}, fmt.Errorf("%s: no Rss", path)
	}
	return u, sc.Err()
}
