package vyos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"sort"
	"strconv"
	"strings"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/internal/nsx"
	"github.com/vishvananda/netlink"
)

// opTree is operational mode's command tree, for prefix expansion and
// completion. A node with vtysh set hands the words from "show" on to FRR.
type opNode struct {
	name  string
	help  string
	kids  []*opNode
	vtysh bool   // pass the command to vtysh as typed (FRR answers)
	arg   string // help for a free-form argument ("<x.x.x.x>")
}

func op(name, help string, kids ...*opNode) *opNode {
	return &opNode{name: name, help: help, kids: kids}
}
func opv(name, help string, kids ...*opNode) *opNode {
	return &opNode{name: name, help: help, kids: kids, vtysh: true}
}
func oparg(n *opNode, arg string) *opNode { n.arg = arg; return n }

var opRoot = op("", "",
	op("configure", "Enter configure mode"),
	op("exit", "Exit from this shell"),
	op("logout", "Exit from this shell"),
	oparg(op("ping", "Send Internet Control Message Protocol (ICMP) echo request"), "<hostname|x.x.x.x|h:h:h:h:h:h:h:h>"),
	op("reset", "Reset a service",
		op("ip", "Reset Internet Protocol (IP) parameters",
			oparg(op("bgp", "Clear Border Gateway Protocol (BGP) statistics or status"), "<x.x.x.x|all>"))),
	op("set", "Set operational options",
		op("terminal", "Control terminal behaviors",
			oparg(op("length", "Set terminal to given number of rows (0 disables paging)"), "<0-4294967295>"),
			oparg(op("width", "Set terminal to given number of columns"), "<0-4294967295>"),
			op("pager", "Set terminal pager to default (less)"))),
	op("show", "Show system information",
		opv("bfd", "Show Bidirectional Forwarding Detection (BFD)",
			opv("peers", "Show all BFD peers", opv("brief", "Show all BFD peers, brief")),
			oparg(opv("peer", "Show BFD peer"), "<x.x.x.x>")),
		oparg(opv("bgp", "Show Border Gateway Protocol (BGP) information",
			opv("summary", "Show summary of BGP neighbor status"),
			oparg(opv("neighbors", "Show BGP neighbor information"), "<x.x.x.x>")), "<x.x.x.x[/x]>"),
		op("configuration", "Show available saved configurations",
			op("commands", "Show running configuration as set commands")),
		op("interfaces", "Show network interface information",
			oparg(op("ethernet", "Show Ethernet (Ethernet, Fast Ethernet, Gigabit Ethernet) interface information"), "<ethN>")),
		opv("ip", "Show IPv4 routing information",
			oparg(opv("bgp", "Show Border Gateway Protocol (BGP) information",
				opv("summary", "Show summary of BGP neighbor status"),
				oparg(opv("neighbors", "Show BGP neighbor information"), "<x.x.x.x>")), "<x.x.x.x[/x]>"),
			oparg(opv("route", "Show IP routes",
				opv("bgp", "Show Border Gateway Protocol (BGP) routes"),
				opv("connected", "Show connected routes"),
				opv("kernel", "Show kernel routes"),
				opv("static", "Show static routes")), "<x.x.x.x[/x]>")),
		opv("ipv6", "Show IPv6 routing information",
			opv("bgp", "Show Border Gateway Protocol (BGP) information",
				opv("summary", "Show summary of BGP neighbor status")),
			opv("route", "Show IPv6 routes")),
		op("version", "Show system version information"),
	),
	oparg(op("traceroute", "Track network path to specified node"), "<hostname|x.x.x.x|h:h:h:h:h:h:h:h>"),
)

func (n *opNode) child(w string) (*opNode, []string) {
	var m []string
	for _, k := range n.kids {
		if k.name == w {
			return k, nil
		}
		if strings.HasPrefix(k.name, w) {
			m = append(m, k.name)
		}
	}
	if len(m) == 1 {
		for _, k := range n.kids {
			if k.name == m[0] {
				return k, nil
			}
		}
	}
	return nil, m
}

// opCompletions lists what may follow the given op-mode words.
func opCompletions(words []string) []Completion {
	n := opRoot
	for _, w := range words {
		k, _ := n.child(w)
		if k == nil {
			return nil
		}
		n = k
	}
	var out []Completion
	for _, k := range n.kids {
		out = append(out, Completion{k.name, k.help})
	}
	if n.arg != "" {
		out = append(out, Completion{n.arg, ""})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Word < out[j].Word })
	return out
}

func invalidOp(words []string, bad int) string {
	pre := strings.Join(words[:bad], " ")
	if pre != "" {
		pre += " "
	}
	return fmt.Sprintf("\n  Invalid command: %s[%s]\n\n", pre, words[bad])
}

func (s *Shell) opCmd(ctx context.Context, words []string, w io.Writer) (bool, int) {
	if words[0] == "run" && len(words) > 1 {
		words = words[1:]
	}
	// Expand unique prefixes along the tree; arguments stay as typed.
	exp := append([]string(nil), words...)
	n := opRoot
	for i, word := range words {
		if len(n.kids) == 0 {
			break
		}
		k, amb := n.child(word)
		if k == nil {
			if n.arg != "" && len(amb) == 0 {
				break // a free-form argument (address, prefix, name)
			}
			if len(amb) > 1 {
				fmt.Fprintf(w, "\n  Ambiguous command: %s [%s]\n\n", strings.Join(exp[:i], " "), word)
				return false, 1
			}
			io.WriteString(w, invalidOp(exp, i))
			return false, 1
		}
		exp[i] = k.name
		n = k
	}
	switch exp[0] {
	case "configure":
		if s.config {
			return false, 0
		}
		s.enterConfig()
		return false, 0
	case "exit", "logout":
		if s.config {
			return s.configCmd(ctx, []string{"exit"}, w)
		}
		return true, 0
	case "ping", "traceroute":
		return false, s.probe(ctx, exp, w)
	case "set":
		if len(exp) >= 3 && exp[1] == "terminal" {
			switch exp[2] {
			case "length", "width":
				if len(exp) < 4 {
					fmt.Fprintf(w, "\n  Incomplete command: %s\n\n", strings.Join(exp, " "))
					return false, 1
				}
				v, err := strconv.Atoi(exp[3])
				if err != nil || v < 0 {
					io.WriteString(w, invalidOp(exp, 3))
					return false, 1
				}
				if exp[2] == "length" {
					s.termLen = v
				} else {
					s.width = v
				}
			}
			return false, 0
		}
		fmt.Fprintf(w, "\n  Incomplete command: %s\n\n", strings.Join(exp, " "))
		return false, 1
	case "reset":
		if len(exp) >= 4 && exp[1] == "ip" && exp[2] == "bgp" {
			target := exp[3]
			if target == "all" {
				target = "*"
			}
			return false, s.vtysh(ctx, w, "clear ip bgp "+target)
		}
		fmt.Fprintf(w, "\n  Incomplete command: %s\n\n", strings.Join(exp, " "))
		return false, 1
	case "show":
		if len(exp) == 1 {
			io.WriteString(w, "\n  Incomplete command: show\n\n")
			return false, 1
		}
		return false, s.show(ctx, exp, w)
	}
	io.WriteString(w, invalidOp(exp, 0))
	return false, 1
}

func (s *Shell) show(ctx context.Context, exp []string, w io.Writer) int {
	active, _ := s.r.snapshot()
	switch exp[1] {
	case "version":
		io.WriteString(w, s.r.opts.Dialect.versionText(hostName(active)))
		return 0
	case "configuration":
		if len(exp) > 2 && exp[2] == "commands" {
			for _, l := range active.Commands() {
				io.WriteString(w, l+"\n")
			}
			return 0
		}
		io.WriteString(w, active.String())
		return 0
	case "interfaces":
		only := ""
		if len(exp) > 3 {
			only = exp[3]
		}
		return s.showInterfaces(w, only)
	}
	// Routing state: FRR answers, as on VyOS.
	return s.vtysh(ctx, w, strings.Join(exp, " "))
}

// vtysh runs one FRR command and prints its text.
func (s *Shell) vtysh(ctx context.Context, w io.Writer, cmd string) int {
	out, err := s.r.opts.FRR.Vtysh(ctx, cmd)
	if err != nil {
		var ve *frr.VtyshError
		if errors.As(err, &ve) {
			txt := ve.Output
			if strings.Contains(txt, "Unknown command") || strings.Contains(txt, "Command incomplete") {
				words := strings.Fields(cmd)
				fmt.Fprintf(w, "\n  Invalid command: %s\n\n", strings.Join(words, " "))
				return 1
			}
			io.WriteString(w, strings.TrimRight(txt, "\n")+"\n")
			return 1
		}
		fmt.Fprintf(w, "%v\n", err)
		return 1
	}
	io.WriteString(w, out)
	return 0
}

// showInterfaces prints "show interfaces" from the router's namespace.
func (s *Shell) showInterfaces(w io.Writer, only string) int {
	nl := s.r.nl
	if nl == nil {
		io.WriteString(w, "interfaces are not available\n")
		return 1
	}
	links, err := nl.LinkList()
	if err != nil {
		fmt.Fprintf(w, "cannot list interfaces: %v\n", err)
		return 1
	}
	sort.Slice(links, func(i, j int) bool { return debCompare(links[i].Attrs().Name, links[j].Attrs().Name) < 0 })
	var b bytes.Buffer
	b.WriteString("Codes: S - State, L - Link, u - Up, D - Down, A - Admin Down\n")
	fmt.Fprintf(&b, "%-16s %-33s %-4s %s\n", "Interface", "IP Address", "S/L", "Description")
	fmt.Fprintf(&b, "%-16s %-33s %-4s %s\n", "---------", "----------", "---", "-----------")
	shown := 0
	for _, l := range links {
		a := l.Attrs()
		if only != "" && a.Name != only {
			continue
		}
		shown++
		st := "A"
		if a.Flags&net.FlagUp != 0 {
			st = "u"
		}
		lk := "D"
		if a.Flags&net.FlagRunning != 0 || a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown && a.Flags&net.FlagUp != 0 {
			lk = "u"
		}
		var addrs []string
		if list, err := nl.AddrList(l, netlink.FAMILY_ALL); err == nil {
			for _, x := range list {
				if ip, ok := netip.AddrFromSlice(x.IP); ok {
					if ip.Is6() && ip.IsLinkLocalUnicast() {
						continue
					}
					ones, _ := x.Mask.Size()
					addrs = append(addrs, netip.PrefixFrom(ip.Unmap(), ones).String())
				}
			}
		}
		if len(addrs) == 0 {
			addrs = []string{"-"}
		}
		desc := a.Alias
		if strings.HasPrefix(desc, "onp/") {
			desc = "" // onp's ownership tag on the namespace's loopback, not a description
		}
		for i, ad := range addrs {
			if i == 0 {
				fmt.Fprintf(&b, "%-16s %-33s %-4s %s\n", a.Name, ad, st+"/"+lk, desc)
			} else {
				fmt.Fprintf(&b, "%-16s %-33s\n", "", ad)
			}
		}
	}
	if only != "" && shown == 0 {
		fmt.Fprintf(w, "Interface %s does not exist\n", only)
		return 1
	}
	w.Write(b.Bytes())
	return 0
}

// probe runs ping or traceroute in the router's namespace. VyOS's options
// map onto the tools' flags; ping sends three probes unless a count is
// given (VyOS pings until Ctrl-C; a session that cannot stream output
// would otherwise never return).
func (s *Shell) probe(ctx context.Context, exp []string, w io.Writer) int {
	tool := exp[0]
	if len(exp) < 2 {
		fmt.Fprintf(w, "\n  Incomplete command: %s\n\n", tool)
		return 1
	}
	host := exp[1]
	var args []string
	count := ""
	opts := exp[2:]
	if tool == "ping" {
		flags := map[string]string{"count": "-c", "interface": "-I", "source-address": "-I", "size": "-s",
			"ttl": "-t", "interval": "-i", "deadline": "-w", "timeout": "-W"}
		bare := map[string][]string{"do-not-fragment": {"-M", "do"}, "record-route": {"-R"}, "quiet": {"-q"},
			"numeric": {"-n"}, "verbose": {"-v"}, "no-loopback": {"-L"}, "bypass-route": {"-r"}}
		for i := 0; i < len(opts); i++ {
			o := opts[i]
			if f, ok := flags[o]; ok && i+1 < len(opts) {
				if o == "count" {
					count = opts[i+1]
				} else {
					args = append(args, f, opts[i+1])
				}
				i++
				continue
			}
			if f, ok := bare[o]; ok {
				args = append(args, f...)
				continue
			}
			io.WriteString(w, invalidOp(exp, i+2))
			return 1
		}
		if count == "" {
			count = "3"
		}
		args = append([]string{"-c", count}, args...)
	} else {
		for i := 0; i < len(opts); i++ {
			switch o := opts[i]; {
			case o == "numeric":
				args = append(args, "-n")
			case (o == "source-address" || o == "interface") && i+1 < len(opts):
				if o == "source-address" {
					args = append(args, "-s", opts[i+1])
				} else {
					args = append(args, "-i", opts[i+1])
				}
				i++
			default:
				io.WriteString(w, invalidOp(exp, i+2))
				return 1
			}
		}
	}
	bin, err := exec.LookPath(tool)
	if err != nil && tool == "traceroute" {
		bin, err = exec.LookPath("tracepath")
		args = nil
	}
	if err != nil {
		fmt.Fprintf(w, "%s: the %s program is not installed on this system (apt-get install -y %s)\n", tool, tool, map[string]string{"ping": "iputils-ping", "traceroute": "traceroute"}[tool])
		return 1
	}
	cmd := exec.CommandContext(ctx, bin, append(args, host)...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := nsx.Start(s.r.opts.NetnsPath, cmd); err != nil {
		fmt.Fprintf(w, "%s: %v\n", tool, err)
		return 1
	}
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		return 1
	}
	return 0
}
