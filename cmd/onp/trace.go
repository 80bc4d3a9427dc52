package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/topology"
	"github.com/onp-lab/onp/trace"
)

func (a *app) traceCommand() *cobra.Command {
	var (
		node, peer, write, read string
		networks                []string
		ports                   []uint
		dur                     time.Duration
		count                   int
		arp, inNode             bool
	)
	c := &cobra.Command{
		Use:   "trace [--lab L] [--node N] [--network BRIDGE] [--peer X] [--for D] [--count N] [-w FILE.pcap] [-r FILE.pcap] [-o json]",
		Short: "Show BGP, BFD and TCP events live on a lab's bridges, decoded",
		Long: `Capture on the lab's bridges (all of them unless --network names some) and
print one line per event: every BGP message decoded (OPEN with AS, hold time,
router-id and capabilities; UPDATE with its routes and attributes;
NOTIFICATION with its code, subcode and data), TCP connection events on the
BGP port (SYN, SYN-ACK, FIN, RST, retransmissions) and BFD control packets
(state, diagnostic, flags, intervals, TTL). Ctrl-C ends the trace with a
summary on stderr.

--node keeps the events of one node (by its addresses) on the bridges it is
plugged into; with --in-node the capture runs on the node's own interfaces,
inside its namespace, instead. -w also writes the frames to a pcap file for
tshark or Wireshark; -r decodes a saved pcap or pcapng file (no lab needed).
-o json prints one JSON object per event.`,
		Example: `  onp trace
  onp trace --peer 192.168.126.3 --for 30s -w bgp.pcap
  onp trace --node sno --count 10 -o json
  onp trace -r bgp.pcap`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.output == "yaml" {
				return usageError("onp trace prints text or json (-o json), not yaml")
			}
			if read != "" && write != "" {
				return usageError("-r and -w do not go together: -r decodes a saved file, -w saves a live capture")
			}
			if count < 0 || dur < 0 {
				return usageError("--count and --for must not be negative")
			}
			var bgpPorts []uint16
			for _, p := range ports {
				if p == 0 || p > 65535 {
					return usageError("--port %d is not a TCP port (1-65535)", p)
				}
				bgpPorts = append(bgpPorts, uint16(p))
			}
			opts := trace.Options{Ports: bgpPorts, ARP: arp, Duration: dur, Count: count, Logger: a.logger()}
			if peer != "" {
				p, err := netip.ParseAddr(peer)
				if err != nil {
					return usageError("--peer %q is not an IP address: give the peer's address, e.g. --peer 192.168.126.3", peer)
				}
				opts.Filter.Peer = p
			}
			var top *topology.Topology
			if read == "" || node != "" {
				l, err := a.manager().Load(a.labName)
				if err != nil {
					return err
				}
				top = l.Topology
			}
			if node != "" {
				addrs, err := trace.NodeAddrs(a.labName, top, node)
				if err != nil {
					return err
				}
				opts.Filter.Hosts = addrs
			}
			multi := false
			if read == "" {
				var err error
				if inNode {
					if node == "" {
						return usageError("--in-node needs --node NAME: the node whose interfaces to capture on")
					}
					if !nsx.IsMounted(topology.NodeNamespace(a.labName, node)) {
						return fmt.Errorf("node %s of lab %s is not running (no namespace %s): check it with onp status", node, a.labName, topology.NodeNamespace(a.labName, node))
					}
					opts.Sources, err = trace.NodeSources(a.labName, top, node, networks)
				} else {
					if !nsx.IsMounted(topology.FabricNamespace(a.labName)) {
						return fmt.Errorf("lab %s is not running (no namespace %s): start it with onp up, or decode a saved capture with -r FILE", a.labName, topology.FabricNamespace(a.labName))
					}
					opts.Sources, err = trace.LabSources(a.labName, top, node, networks)
				}
				if err != nil {
					return err
				}
				if len(opts.Sources) == 0 {
					return fmt.Errorf("lab %s: nothing to capture on", a.labName)
				}
				multi = len(opts.Sources) > 1
			}
			out := a.traceWriter(multi)
			var (
				sum trace.Summary
				err error
			)
			if read != "" {
				f, ferr := os.Open(read)
				if ferr != nil {
					return fmt.Errorf("open capture: %w", ferr)
				}
				defer f.Close()
				sum, err = trace.Read(f, opts, out)
				if errors.Is(err, trace.ErrTruncated) {
					fmt.Fprintf(a.stderr, "warning: %s: %v (decoded what was there)\n", read, err)
					err = nil
				} else if err != nil {
					err = fmt.Errorf("%s: %w", read, err)
				}
			} else {
				if write != "" {
					f, ferr := os.Create(write)
					if ferr != nil {
						return fmt.Errorf("create capture file: %w", ferr)
					}
					defer f.Close()
					opts.Pcap = f
				}
				var names []string
				for _, s := range opts.Sources {
					names = append(names, s.Interface)
				}
				what := "BGP and BFD"
				if arp {
					what += " and ARP"
				}
				fmt.Fprintf(a.stderr, "tracing %s on %s (lab %s); Ctrl-C to stop\n", what, strings.Join(names, ", "), a.labName)
				sum, err = trace.Live(cmd.Context(), opts, out)
			}
			if err == nil || sum.Packets > 0 {
				fmt.Fprintf(a.stderr, "%s\n", sum)
			}
			if write != "" && err == nil {
				fmt.Fprintf(a.stderr, "wrote %s (read it with: onp trace -r %s, or tshark -r %s -Y bgp)\n", write, write, write)
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&node, "node", "", "only events of this node (by its addresses)")
	f.StringSliceVar(&networks, "network", nil, "capture on these networks (bridges) only; repeatable")
	f.StringVar(&peer, "peer", "", "only events to or from this address")
	f.DurationVar(&dur, "for", 0, "stop after this long (e.g. 30s)")
	f.IntVar(&count, "count", 0, "stop after this many events")
	f.StringVarP(&write, "write", "w", "", "also write the captured frames to this pcap file")
	f.StringVarP(&read, "read", "r", "", "decode a saved pcap or pcapng file instead of capturing")
	f.UintSliceVar(&ports, "port", nil, "further TCP ports that carry BGP (MetalLB peerPort); 179 is always traced")
	f.BoolVar(&arp, "arp", false, "also show ARP requests and replies")
	f.BoolVar(&inNode, "in-node", false, "capture on the node's own interfaces inside its namespace (needs --node)")
	c.RegisterFlagCompletionFunc("node", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return a.completeNodes(cmd, nil, toComplete)
	})
	return c
}

// traceWriter returns the event printer: JSON lines with -o json, else
// one text line per event (with the interface when several are traced).
func (a *app) traceWriter(multi bool) func(trace.Event) error {
	if a.output == "json" {
		enc := json.NewEncoder(a.stdout)
		return func(e trace.Event) error { return enc.Encode(e) }
	}
	return func(e trace.Event) error {
		line := e.Text()
		if multi && e.Interface != "" {
			ts, rest, _ := strings.Cut(line, " ")
			line = ts + " " + e.Interface + " " + rest
		}
		_, err := io.WriteString(a.stdout, line+"\n")
		return err
	}
}
