package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/lab"
)

// Exec implements Execer: the command runs in the node as onp exec runs
// it, with stdin as its standard input; its output is returned.
func (e *LabEnv) Exec(ctx context.Context, node string, argv []string, stdin string) (ExecResult, error) {
	if _, err := e.node(node); err != nil {
		return ExecResult{}, err
	}
	if len(argv) == 0 {
		return ExecResult{}, Permanent(fmt.Errorf("exec on %s: no command", node))
	}
	h, err := e.Manager.Node(e.Lab, node)
	if err != nil {
		return ExecResult{}, err
	}
	var out lockedBuffer
	res, err := h.Exec(ctx, argv, lab.ExecOptions{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &out})
	if err != nil {
		return ExecResult{ExitCode: res.ExitCode, Output: out.String()}, Permanent(err)
	}
	return ExecResult{ExitCode: res.ExitCode, Output: out.String()}, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func rejectComment(proto string, port uint16) string {
	return fmt.Sprintf("onp fault: reject %s/%d", proto, port)
}

// Reject implements Rejecter.
func (f *labFaults) Reject(ctx context.Context, node, proto string, port uint16) error {
	p, err := f.nodeNetns(node)
	if err != nil {
		return err
	}
	return RejectPort(p, proto, port)
}

// RejectPort adds a rule to the input chain of the fault table (family
// inet) in the network namespace at nsPath that refuses packets to a
// port: a TCP reset for TCP, an ICMP port unreachable for UDP. Only the
// input path is touched, so the namespace's own connections to the port
// elsewhere still work, as with a host firewall's "reject" rule. unblock
// (BlockPort with block false) removes it.
func RejectPort(nsPath, proto string, port uint16) error {
	l4, c, err := faultConn(nsPath, proto)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	var verdict expr.Any = &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}
	if l4 == unix.IPPROTO_UDP {
		verdict = &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH}
	}
	comment := rejectComment(proto, port)
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: FaultTable}
	c.AddTable(table)
	accept := nftables.ChainPolicyAccept
	ch := &nftables.Chain{Name: "input", Table: table, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept}
	c.AddChain(ch)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: create table %s: %w", FaultTable, err)
	}
	rules, err := c.GetRules(table, ch)
	if err != nil {
		return fmt.Errorf("nftables: list rules: %w", err)
	}
	if slices.ContainsFunc(rules, func(r *nftables.Rule) bool { return ruleComment(r) == comment }) {
		return nil
	}
	c.AddRule(&nftables.Rule{
		Table: table,
		Chain: ch,
		Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
			&expr.Counter{},
			verdict,
		},
		UserData: userdata.AppendString(nil, userdata.TypeComment, comment),
	})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: add the rule rejecting %s/%d: %w", proto, port, err)
	}
	return nil
}

// Route implements RouteFaults, with netlink in the node's namespace (the
// main table).
func (f *labFaults) Route(ctx context.Context, node string, to netip.Prefix, via netip.Addr, add bool) error {
	p, err := f.nodeNetns(node)
	if err != nil {
		return err
	}
	return SetRoute(p, "node "+node, to, via, add)
}

// SetRoute adds (add true) a route to to via via in the main table of the
// network namespace at nsPath, or deletes the route to to (through via,
// when valid). Adding a route that exists and deleting one that does not
// are not errors. where names the namespace in errors.
func SetRoute(nsPath, where string, to netip.Prefix, via netip.Addr, add bool) error {
	var h *netlink.Handle
	if err := nsx.Do(nsPath, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		return err
	}
	defer h.Close()
	family := netlink.FAMILY_V4
	if to.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	dst := &net.IPNet{IP: to.Addr().AsSlice(), Mask: net.CIDRMask(to.Bits(), to.Addr().BitLen())}
	if add {
		r := &netlink.Route{Dst: dst, Gw: via.AsSlice(), Family: family}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("add route %s via %s on %s: %w", to, via, where, err)
		}
		return nil
	}
	routes, err := h.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes to %s on %s: %w", to, where, err)
	}
	for _, r := range routes {
		got := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if family == netlink.FAMILY_V6 {
			got = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if r.Dst != nil {
			a, _ := netip.AddrFromSlice(r.Dst.IP)
			ones, _ := r.Dst.Mask.Size()
			got = netip.PrefixFrom(a.Unmap(), ones)
		}
		if got != to {
			continue
		}
		if via.IsValid() && !r.Gw.Equal(via.AsSlice()) {
			continue
		}
		if err := h.RouteDel(&r); err != nil {
			return fmt.Errorf("delete route %s on %s: %w", to, where, err)
		}
	}
	return nil
}
