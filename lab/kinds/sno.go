package kinds

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/onp-lab/onp/cluster"
	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/topology"
)

// SNO is the single-node cluster: onp's cluster agent (object store and
// API, kubelet for echoserver pods, kube-proxy with nftables, MetalLB's
// controller) and the MetalLB-compatible speaker, each a supervised
// process in the node's namespace. The lab file's manifests are applied
// in order once the agent answers, as `onp apply -f` would.
type SNO struct {
	// Exe is the onp binary that runs the agent and the speaker.
	Exe string
}

// Name implements lab.Kind.
func (SNO) Name() string { return "sno" }

// Preflight implements lab.Kind: the manifests must decode.
func (SNO) Preflight(ctx context.Context, l *lab.Lab, n *topology.Node) error {
	_, err := manifests(l, n)
	return err
}

func manifests(l *lab.Lab, n *topology.Node) ([]api.Document, error) {
	var docs []api.Document
	for _, f := range n.SNO.Manifests {
		b, err := l.Topology.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", f, err)
		}
		d, err := kube.DecodeManifests(f, b)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

// SpeakerSocket is the speaker's status endpoint of a cluster node.
func SpeakerSocket(labName, node string) string {
	return filepath.Join(lab.NodeRunDir(labName, node), "speaker.sock")
}

// APISocket is a cluster node's API socket.
func APISocket(l *lab.Lab, node string) string {
	return cluster.SocketPath(filepath.Join(l.Dir, "nodes", node))
}

// Deploy implements lab.Kind.
func (k SNO) Deploy(ctx context.Context, l *lab.Lab, node lab.Node, n *topology.Node) error {
	ln, err := localNode(node)
	if err != nil {
		return err
	}
	var addrs []string
	for _, ifc := range n.Interfaces {
		if p, err := l.Topology.InterfacePrefix(ifc); err == nil {
			addrs = append(addrs, p.Addr().String())
		}
	}
	argv := []string{k.Exe, "-v", "__cluster-agent", "--lab", l.Name, "--node", n.Name, "--dir", ln.Dir(), "--pod-subnet", n.SNO.PodSubnet}
	for _, a := range addrs {
		argv = append(argv, "--node-ip", a)
	}
	if err := node.Start(ctx, lab.Service{Name: "cluster", Argv: argv, StopTimeout: 3 * time.Second}); err != nil {
		return err
	}
	sock := APISocket(l, n.Name)
	c := client.New(sock)
	defer c.Close()
	if err := waitFor(ctx, 20*time.Second, filepath.Join(l.Dir, "logs", n.Name+"-cluster.log"), func() error {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return c.Ping(pctx)
	}); err != nil {
		return err
	}
	speaker := []string{k.Exe, "-v", "speaker", "--node", n.Name, "--api-socket", sock, "--status-socket", SpeakerSocket(l.Name, n.Name)}
	if err := node.Start(ctx, lab.Service{Name: "speaker", Argv: speaker, StopTimeout: 2 * time.Second}); err != nil {
		return err
	}
	if err := waitFor(ctx, 20*time.Second, filepath.Join(l.Dir, "logs", n.Name+"-speaker.log"), func() error {
		c, err := net.Dial("unix", SpeakerSocket(l.Name, n.Name))
		if err != nil {
			return err
		}
		return c.Close()
	}); err != nil {
		return err
	}
	docs, err := manifests(l, n)
	if err != nil || len(docs) == 0 {
		return err
	}
	objs := make([]api.Object, len(docs))
	srcs := make([]api.Source, len(docs))
	for i, d := range docs {
		objs[i], srcs[i] = d.Object, d.Source
	}
	if _, err := c.Apply(ctx, objs, kube.ApplyOptions{Mode: kube.ModeApply, Sources: srcs, Summary: true}); err != nil {
		return fmt.Errorf("apply the manifests: %w", err)
	}
	return nil
}
