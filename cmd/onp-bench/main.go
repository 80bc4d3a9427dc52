// Command onp-bench measures onp's speed and memory targets and prints a
// table: medians of several runs, each next to a peer measured in the same
// run where one exists. It is what `make bench` runs; it needs root.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one measured quantity.
type row struct {
	name    string
	samples []time.Duration
	target  time.Duration // 0: no target
	peer    string
	peerS   []time.Duration
	note    string
}

func median(s []time.Duration) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := append([]time.Duration(nil), s...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func pct(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := append([]time.Duration(nil), s...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	i := int(float64(len(c)-1) * p)
	return c[i]
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func main() {
	onp := flag.String("onp", "bin/onp", "the onp binary to measure")
	runs := flag.Int("runs", 7, "runs per measurement")
	only := flag.String("only", "", "run only suites whose name contains this")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "onp-bench needs root (it builds labs)")
		os.Exit(2)
	}
	bin, err := filepath.Abs(*onp)
	if err != nil {
		fail(err)
	}
	if _, err := os.Stat(bin); err != nil {
		fail(fmt.Errorf("%s: build it first (make build)", bin))
	}
	home, err := os.MkdirTemp("", "onp-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(home)
	b := &bench{onp: bin, home: home, runs: *runs}
	var rows []row
	for _, s := range suites {
		if *only != "" && !strings.Contains(s.name, *only) {
			continue
		}
		fmt.Fprintf(os.Stderr, "measuring %s ...\n", s.name)
		rs, err := s.run(b)
		if err != nil {
			fmt.Fprintf(os.Stderr, "  %s: %v\n", s.name, err)
			rows = append(rows, row{name: s.name, note: "ERROR: " + err.Error()})
			continue
		}
		rows = append(rows, rs...)
	}
	print(rows, *runs)
}

func print(rows []row, runs int) {
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(w, "MEASUREMENT\tMEDIAN\tP95\tTARGET\tRESULT\tPEER (same run)\tPEER MEDIAN\tRATIO\tNOTE\n")
	for _, r := range rows {
		res := "-"
		if r.target > 0 && len(r.samples) > 0 {
			res = "PASS"
			if median(r.samples) > r.target {
				res = "MISS"
			}
		}
		ratio := "-"
		if len(r.peerS) > 0 && median(r.peerS) > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(median(r.samples))/float64(median(r.peerS)))
		}
		tgt := "-"
		if r.target > 0 {
			tgt = "≤ " + ms(r.target)
		}
		peer := r.peer
		if peer == "" {
			peer = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, ms(median(r.samples)), ms(pct(r.samples, 0.95)), tgt, res, peer, ms(median(r.peerS)), ratio, r.note)
	}
	w.Flush()
	fmt.Printf("\n%d runs per measurement; ratio = onp median / peer median (below 1 is faster than the peer).\n", runs)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "onp-bench:", err)
	os.Exit(1)
}
