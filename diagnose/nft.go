package diagnose

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// nftFamily names a table family as nft prints it.
func nftFamily(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyNetdev:
		return "netdev"
	case nftables.TableFamilyBridge:
		return "bridge"
	}
	return fmt.Sprintf("family%d", f)
}

func nftHook(h *nftables.ChainHook) string {
	if h == nil {
		return ""
	}
	switch *h {
	case unix.NF_INET_PRE_ROUTING:
		return "prerouting"
	case unix.NF_INET_LOCAL_IN:
		return "input"
	case unix.NF_INET_FORWARD:
		return "forward"
	case unix.NF_INET_LOCAL_OUT:
		return "output"
	case unix.NF_INET_POST_ROUTING:
		return "postrouting"
	}
	return fmt.Sprintf("hook%d", *h)
}

// regLoad is what an expression loaded into a register.
type regLoad struct {
	what  string // "l4proto", "th sport", "th dport", "ip saddr", ...
	ports bool
}

// interpretRule renders a rule in nft syntax and says whether it drops or
// rejects, and whether it is about TCP port 179.
// BFD's UDP ports: single hop and multihop control packets.
const (
	bfdPort         = 3784
	bfdMultihopPort = 4784
)

// portDir merges a port match's direction into what a rule matched so far.
func portDir(prev, dir string) string {
	if prev != "" && prev != dir {
		return "both"
	}
	return dir
}

func interpretRule(r *nftables.Rule) FirewallRule {
	fr := FirewallRule{}
	regs := map[uint32]regLoad{}
	var parts []string
	protoTCP := false
	for _, e := range r.Exprs {
		switch x := e.(type) {
		case *expr.Meta:
			if x.SourceRegister {
				parts = append(parts, "meta set")
				continue
			}
			regs[x.Register] = regLoad{what: metaKey(x.Key)}
		case *expr.Payload:
			if x.OperationType != expr.PayloadLoad {
				parts = append(parts, "payload write")
				continue
			}
			regs[x.DestRegister] = payloadLoad(x)
		case *expr.Cmp:
			ld := regs[x.Register]
			op := cmpOp(x.Op)
			val := fmtValue(ld, x.Data)
			if ld.what == "" {
				parts = append(parts, fmt.Sprintf("<cmp %s %x>", op, x.Data))
				continue
			}
			if ld.what == "meta l4proto" && len(x.Data) == 1 && x.Data[0] == unix.IPPROTO_TCP && x.Op == expr.CmpOpEq {
				protoTCP = true
			}
			if ld.ports && len(x.Data) == 2 && x.Op == expr.CmpOpEq {
				dir := "dport"
				if strings.HasSuffix(ld.what, "sport") {
					dir = "sport"
				}
				switch binary.BigEndian.Uint16(x.Data) {
				case 179:
					fr.Port179 = portDir(fr.Port179, dir)
				case bfdPort, bfdMultihopPort:
					fr.PortBFD = portDir(fr.PortBFD, dir)
				}
			}
			parts = append(parts, strings.Join(nonEmpty(ld.what, op, val), " "))
		case *expr.Range:
			ld := regs[x.Register]
			if ld.ports && len(x.FromData) == 2 && len(x.ToData) == 2 {
				from, to := binary.BigEndian.Uint16(x.FromData), binary.BigEndian.Uint16(x.ToData)
				if x.Op == expr.CmpOpEq {
					dir := "dport"
					if strings.HasSuffix(ld.what, "sport") {
						dir = "sport"
					}
					if from <= 179 && 179 <= to {
						fr.Port179 = dir
					}
					if from <= bfdPort && bfdPort <= to || from <= bfdMultihopPort && bfdMultihopPort <= to {
						fr.PortBFD = dir
					}
				}
				parts = append(parts, fmt.Sprintf("%s %d-%d", ld.what, from, to))
				continue
			}
			parts = append(parts, "<range>")
		case *expr.Lookup:
			ld := regs[x.SourceRegister]
			neg := ""
			if x.Invert {
				neg = "!= "
			}
			parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s %s@%s", ld.what, neg, x.SetName)))
		case *expr.Counter:
			fr.Packets = x.Packets
			parts = append(parts, fmt.Sprintf("counter packets %d bytes %d", x.Packets, x.Bytes))
		case *expr.Verdict:
			switch x.Kind {
			case expr.VerdictDrop:
				fr.Verdict = "drop"
				parts = append(parts, "drop")
			case expr.VerdictAccept:
				fr.Verdict = "accept"
				parts = append(parts, "accept")
			case expr.VerdictJump:
				parts = append(parts, "jump "+x.Chain)
			case expr.VerdictGoto:
				parts = append(parts, "goto "+x.Chain)
			case expr.VerdictReturn:
				parts = append(parts, "return")
			default:
				parts = append(parts, fmt.Sprintf("verdict %d", x.Kind))
			}
		case *expr.Reject:
			fr.Verdict = "reject"
			fr.Reject = rejectType(x)
			parts = append(parts, "reject with "+fr.Reject)
		case *expr.Immediate:
			regs[x.Register] = regLoad{what: fmt.Sprintf("%x", x.Data)}
		case *expr.Log:
			parts = append(parts, "log")
		case *expr.Ct:
			regs[x.Register] = regLoad{what: "ct"}
		case *expr.Bitwise:
			regs[x.DestRegister] = regs[x.SourceRegister]
		default:
			parts = append(parts, fmt.Sprintf("<%T>", e))
		}
	}
	fr.TCP = protoTCP
	fr.Rule = strings.Join(parts, " ")
	return fr
}

func metaKey(k expr.MetaKey) string {
	switch k {
	case expr.MetaKeyL4PROTO:
		return "meta l4proto"
	case expr.MetaKeyIIFNAME:
		return "iifname"
	case expr.MetaKeyOIFNAME:
		return "oifname"
	case expr.MetaKeyIIF:
		return "iif"
	case expr.MetaKeyOIF:
		return "oif"
	case expr.MetaKeyNFPROTO:
		return "meta nfproto"
	case expr.MetaKeyMARK:
		return "meta mark"
	case expr.MetaKeyPROTOCOL:
		return "meta protocol"
	}
	return fmt.Sprintf("meta key%d", k)
}

func payloadLoad(p *expr.Payload) regLoad {
	switch p.Base {
	case expr.PayloadBaseTransportHeader:
		switch {
		case p.Offset == 0 && p.Len == 2:
			return regLoad{what: "th sport", ports: true}
		case p.Offset == 2 && p.Len == 2:
			return regLoad{what: "th dport", ports: true}
		case p.Offset == 13 && p.Len == 1:
			return regLoad{what: "tcp flags"}
		}
	case expr.PayloadBaseNetworkHeader:
		switch {
		case p.Offset == 12 && p.Len == 4:
			return regLoad{what: "ip saddr"}
		case p.Offset == 16 && p.Len == 4:
			return regLoad{what: "ip daddr"}
		case p.Offset == 9 && p.Len == 1:
			return regLoad{what: "ip protocol"}
		}
	}
	return regLoad{what: fmt.Sprintf("@payload(%d,%d,%d)", p.Base, p.Offset, p.Len)}
}

func cmpOp(op expr.CmpOp) string {
	switch op {
	case expr.CmpOpEq:
		return ""
	case expr.CmpOpNeq:
		return "!="
	case expr.CmpOpLt:
		return "<"
	case expr.CmpOpLte:
		return "<="
	case expr.CmpOpGt:
		return ">"
	case expr.CmpOpGte:
		return ">="
	}
	return "?"
}

func fmtValue(ld regLoad, b []byte) string {
	switch {
	case ld.ports && len(b) == 2:
		return fmt.Sprint(binary.BigEndian.Uint16(b))
	case ld.what == "meta l4proto" && len(b) == 1:
		switch b[0] {
		case unix.IPPROTO_TCP:
			return "tcp"
		case unix.IPPROTO_UDP:
			return "udp"
		case unix.IPPROTO_ICMP:
			return "icmp"
		}
		return fmt.Sprint(b[0])
	case strings.HasPrefix(ld.what, "ip ") && len(b) == 4:
		return netip.AddrFrom4([4]byte(b)).String()
	case strings.HasSuffix(ld.what, "ifname"):
		return `"` + strings.TrimRight(string(b), "\x00") + `"`
	}
	return fmt.Sprintf("0x%x", b)
}

func rejectType(r *expr.Reject) string {
	switch r.Type {
	case unix.NFT_REJECT_TCP_RST:
		return "tcp reset"
	case unix.NFT_REJECT_ICMPX_UNREACH:
		switch r.Code {
		case unix.NFT_REJECT_ICMPX_PORT_UNREACH:
			return "icmpx port-unreachable"
		case unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED:
			return "icmpx admin-prohibited"
		case unix.NFT_REJECT_ICMPX_HOST_UNREACH:
			return "icmpx host-unreachable"
		}
		return fmt.Sprintf("icmpx code %d", r.Code)
	case unix.NFT_REJECT_ICMP_UNREACH:
		return fmt.Sprintf("icmp type unreachable code %d", r.Code)
	}
	return fmt.Sprintf("type %d code %d", r.Type, r.Code)
}

// readFirewall lists a namespace's nftables rules that drop or reject, the
// rules about port 179, and base chains with a drop policy. It must run
// inside the namespace (the connection is opened there).
func readFirewall(c *nftables.Conn) ([]FirewallRule, int, error) {
	chains, err := c.ListChains()
	if err != nil {
		return nil, 0, fmt.Errorf("nftables: list chains: %w", err)
	}
	var out []FirewallRule
	total := 0
	for _, ch := range chains {
		fam, hook := nftFamily(ch.Table.Family), nftHook(ch.Hooknum)
		if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			out = append(out, FirewallRule{Family: fam, Table: ch.Table.Name, Chain: ch.Name, Hook: hook, Rule: "policy drop", Verdict: "drop"})
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return out, total, fmt.Errorf("nftables: rules of %s %s %s: %w", fam, ch.Table.Name, ch.Name, err)
		}
		total += len(rules)
		for _, r := range rules {
			fr := interpretRule(r)
			if fr.Port179 == "" && fr.PortBFD == "" && fr.Verdict != "drop" && fr.Verdict != "reject" {
				continue
			}
			fr.Family, fr.Table, fr.Chain, fr.Hook = fam, ch.Table.Name, ch.Name, hook
			out = append(out, fr)
		}
	}
	return out, total, nil
}

// String renders the rule as "inet onp_faults input: meta l4proto tcp th
// dport 179 counter packets 3 bytes 180 drop".
func (r FirewallRule) String() string {
	where := strings.TrimSpace(r.Family + " " + r.Table + " " + r.Chain)
	return where + ": " + r.Rule
}
