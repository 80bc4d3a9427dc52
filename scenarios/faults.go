package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/supervisor"
	"github.com/onp-lab/onp/topology"
)

// labFaults injects faults into a netns lab: links with netlink in the
// node's or the fabric's namespace, processes through the lab's supervisor,
// port blocks with nftables in the node's namespace.
type labFaults struct{ e *LabEnv }

func (f *labFaults) nodeNetns(node string) (string, error) {
	if _, err := f.e.node(node); err != nil {
		return "", err
	}
	h, err := f.e.Manager.Node(f.e.Lab, node)
	if err != nil {
		return "", err
	}
	ln, ok := h.(lab.LocalNode)
	if !ok {
		return "", Unavailable("fault", "node %s is not on this machine", node)
	}
	return ln.NetnsPath(), nil
}

func setLink(nsPath, where, iface string, up bool) error {
	var h *netlink.Handle
	if err := nsx.Do(nsPath, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(iface)
	if err != nil {
		links, _ := h.LinkList()
		var names []string
		for _, x := range links {
			names = append(names, x.Attrs().Name)
		}
		return fmt.Errorf("%s has no interface %q (interfaces: %s)", where, iface, strings.Join(names, ", "))
	}
	if up {
		err = h.LinkSetUp(l)
	} else {
		err = h.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("set %s %s on %s: %w", iface, map[bool]string{true: "up", false: "down"}[up], where, err)
	}
	return nil
}

// SetLink implements Faults.
func (f *labFaults) SetLink(ctx context.Context, node, iface string, up bool) error {
	p, err := f.nodeNetns(node)
	if err != nil {
		return err
	}
	return setLink(p, "node "+node, iface, up)
}

// SetBridgePort implements Faults.
func (f *labFaults) SetBridgePort(ctx context.Context, port string, up bool) error {
	return setLink(nsx.Path(topology.FabricNamespace(f.e.Lab.Name)), "the fabric of lab "+f.e.Lab.Name, port, up)
}

// Service implements Faults.
func (f *labFaults) Service(ctx context.Context, node, service, action string) error {
	if _, err := f.e.node(node); err != nil {
		return err
	}
	c := supervisor.NewClient(f.e.Lab.Dir)
	states, err := c.List(ctx)
	if err != nil {
		return fmt.Errorf("lab %s: %w", f.e.Lab.Name, err)
	}
	name := node + "/" + service
	var st *supervisor.State
	var have []string
	for i := range states {
		if n, ok := strings.CutPrefix(states[i].Name, node+"/"); ok {
			have = append(have, n)
		}
		if states[i].Name == name {
			st = &states[i]
		}
	}
	if st == nil {
		list := "none"
		if len(have) > 0 {
			list = strings.Join(have, ", ")
		}
		return Permanent(fmt.Errorf("node %s has no supervised process %q (its processes: %s)", node, service, list))
	}
	switch action {
	case "stop":
		return c.Stop(ctx, name, 0)
	case "kill":
		return c.Signal(ctx, name, syscall.SIGKILL)
	case "start":
		if st.Running {
			return nil
		}
		_, err := c.Start(ctx, st.Spec)
		return err
	case "restart":
		if err := c.Stop(ctx, name, 0); err != nil {
			return err
		}
		_, err := c.Start(ctx, st.Spec)
		return err
	}
	return Permanent(fmt.Errorf("unknown process action %q: use stop, start, kill or restart", action))
}

// FaultTable is the nftables table (family inet) that holds port blocks.
const FaultTable = "onp_faults"

func blockComment(proto string, port uint16) string {
	return fmt.Sprintf("onp fault: block %s/%d", proto, port)
}

// Block implements Faults: in the node's namespace, four rules drop the
// protocol's packets to and from the port, in both directions.
func (f *labFaults) Block(ctx context.Context, node, proto string, port uint16, block bool) error {
	p, err := f.nodeNetns(node)
	if err != nil {
		return err
	}
	return BlockPort(p, proto, port, block)
}

// faultConn checks a port fault's protocol (its IP protocol number) and
// opens nftables in the namespace at nsPath; the caller closes the
// connection (CloseLasting).
func faultConn(nsPath, proto string) (byte, *nftables.Conn, error) {
	var l4 byte
	switch proto {
	case "tcp":
		l4 = unix.IPPROTO_TCP
	case "udp":
		l4 = unix.IPPROTO_UDP
	default:
		return 0, nil, Permanent(fmt.Errorf("unknown protocol %q: use tcp or udp", proto))
	}
	var c *nftables.Conn
	if err := nsx.Do(nsPath, func() error {
		var err error
		c, err = nftables.New(nftables.AsLasting())
		return err
	}); err != nil {
		return 0, nil, fmt.Errorf("nftables: %w", err)
	}
	return l4, c, nil
}

// BlockPort adds (block true) or removes the rules that drop a TCP or UDP
// port in the network namespace at nsPath.
func BlockPort(nsPath, proto string, port uint16, block bool) error {
	l4, c, err := faultConn(nsPath, proto)
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	comment := blockComment(proto, port)
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: FaultTable}
	if !block {
		return unblock(c, table, comment, rejectComment(proto, port))
	}
	c.AddTable(table)
	accept := nftables.ChainPolicyAccept
	chains := []*nftables.Chain{
		{Name: "input", Table: table, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept},
		{Name: "output", Table: table, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &accept},
	}
	for _, ch := range chains {
		c.AddChain(ch)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: create table %s: %w", FaultTable, err)
	}
	for _, ch := range chains {
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return fmt.Errorf("nftables: list rules: %w", err)
		}
		if slices.ContainsFunc(rules, func(r *nftables.Rule) bool { return ruleComment(r) == comment }) {
			continue
		}
		for _, offset := range []uint32{0, 2} { // source port, destination port
			c.AddRule(&nftables.Rule{
				Table: table,
				Chain: ch,
				Exprs: []expr.Any{
					&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4}},
					&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
					&expr.Counter{},
					&expr.Verdict{Kind: expr.VerdictDrop},
				},
				UserData: userdata.AppendString(nil, userdata.TypeComment, comment),
			})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: add rules blocking %s/%d: %w", proto, port, err)
	}
	return nil
}

func ruleComment(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return strings.TrimRight(s, "\x00")
}

// unblock removes the rules with the given comments, and the table when it
// is left empty.
func unblock(c *nftables.Conn, table *nftables.Table, comments ...string) error {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("nftables: list chains: %w", err)
	}
	left := 0
	found := false
	for _, ch := range chains {
		if ch.Table.Name != FaultTable {
			continue
		}
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return fmt.Errorf("nftables: list rules: %w", err)
		}
		for _, r := range rules {
			if slices.Contains(comments, ruleComment(r)) {
				found = true
				if err := c.DelRule(r); err != nil {
					return fmt.Errorf("nftables: delete rule: %w", err)
				}
				continue
			}
			left++
		}
	}
	if !found {
		return nil
	}
	if left == 0 {
		c.DelTable(table)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: remove the block: %w", err)
	}
	return nil
}
