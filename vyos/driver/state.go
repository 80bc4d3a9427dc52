package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/onp-lab/onp/internal/frr"
)

// FRR state as vtysh prints it in JSON (the same shapes onp reads from its
// own FRR instances).
type (
	BGPSummary     = frr.BGPSummary
	BGPAFSummary   = frr.BGPAFSummary
	BGPSummaryPeer = frr.BGPSummaryPeer
	BGPNeighbor    = frr.BGPNeighbor
	Route          = frr.Route
	Nexthop        = frr.Nexthop
	BFDPeer        = frr.BFDPeer
)

// VtyshError is a vtysh command the router's FRR refused.
type VtyshError struct {
	Router   string
	Commands []string
	Result   Result
}

func (e *VtyshError) Error() string {
	return fmt.Sprintf("vyos driver: %s: vtysh -c %q exited with status %d: %s", e.Router, strings.Join(e.Commands, "; "), e.Result.ExitStatus, strings.TrimSpace(e.Result.Output()))
}

// Vtysh runs `vtysh -c CMD [-c CMD...]` on the router and returns its output.
func (c *Client) Vtysh(ctx context.Context, cmds ...string) (string, error) {
	if len(cmds) == 0 {
		return "", fmt.Errorf("vyos driver: vtysh needs at least one command")
	}
	parts := []string{"vtysh"}
	for _, cmd := range cmds {
		parts = append(parts, "-c", shellQuote(cmd))
	}
	r, err := c.Run(ctx, strings.Join(parts, " "), nil)
	if err != nil {
		return "", err
	}
	if r.ExitStatus != 0 {
		return r.Stdout, &VtyshError{Router: c.name, Commands: cmds, Result: r}
	}
	return r.Stdout, nil
}

// VtyshJSON runs one `... json` show command and decodes its output into v.
func (c *Client) VtyshJSON(ctx context.Context, cmd string, v any) error {
	if !strings.HasSuffix(strings.TrimSpace(cmd), "json") {
		cmd = strings.TrimSpace(cmd) + " json"
	}
	out, err := c.Vtysh(ctx, cmd)
	if err != nil {
		return err
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return fmt.Errorf("vyos driver: %s: vtysh -c %q printed nothing (is FRR running?)", c.name, cmd)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("vyos driver: %s: decode vtysh -c %q: %w (output starts %q)", c.name, cmd, err, firstLines(out, 2))
	}
	return nil
}

// BGPSummary is `show bgp summary json`, keyed by address family
// ("ipv4Unicast", ...). A router without BGP gives an empty summary.
func (c *Client) BGPSummary(ctx context.Context) (BGPSummary, error) {
	var raw map[string]json.RawMessage
	if err := c.VtyshJSON(ctx, "show bgp summary json", &raw); err != nil {
		return nil, err
	}
	out := BGPSummary{}
	for k, v := range raw {
		var af BGPAFSummary
		if json.Unmarshal(v, &af) == nil {
			out[k] = af
		}
	}
	return out, nil
}

// BGPNeighbors is `show bgp neighbors json`, keyed by neighbor.
func (c *Client) BGPNeighbors(ctx context.Context) (map[string]BGPNeighbor, error) {
	var raw map[string]json.RawMessage
	if err := c.VtyshJSON(ctx, "show bgp neighbors json", &raw); err != nil {
		return nil, err
	}
	out := map[string]BGPNeighbor{}
	for k, v := range raw {
		var n BGPNeighbor
		if json.Unmarshal(v, &n) == nil {
			out[k] = n
		}
	}
	return out, nil
}

// Routes is `show ip route [PROTOCOL] json`, keyed by prefix.
func (c *Client) Routes(ctx context.Context, protocol string) (map[string][]Route, error) {
	cmd := "show ip route json"
	if p := strings.TrimSpace(protocol); p != "" {
		cmd = "show ip route " + p + " json"
	}
	out := map[string][]Route{}
	if err := c.VtyshJSON(ctx, cmd, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// BFDPeers is `show bfd peers json`.
func (c *Client) BFDPeers(ctx context.Context) ([]BFDPeer, error) {
	var out []BFDPeer
	if err := c.VtyshJSON(ctx, "show bfd peers json", &out); err != nil {
		return nil, err
	}
	return out, nil
}

func fileMode(m uint32) os.FileMode { return os.FileMode(m) }
