package diagnose

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	"github.com/onp-lab/onp/cluster/client"
	"github.com/onp-lab/onp/cluster/kube"
	"github.com/onp-lab/onp/lab"
	"github.com/onp-lab/onp/lab/kinds"
	"github.com/onp-lab/onp/metallb/api"
	"github.com/onp-lab/onp/metallb/speaker"
)

// defaultMetalLBNamespace is where MetalLB's objects live unless the
// speaker says otherwise.
const defaultMetalLBNamespace = "metallb-system"

// gatherSpeaker reads a cluster node's speaker status and the objects it
// acts on.
func gatherSpeaker(ctx context.Context, l *lab.Lab, node string) SpeakerInfo {
	si := SpeakerInfo{Node: node}
	st, err := speaker.Status(ctx, kinds.SpeakerSocket(l.Name, node))
	if err != nil {
		si.Error = err.Error()
	}
	if st != nil {
		si.Status = st
	}
	ns := defaultMetalLBNamespace
	if st != nil && st.MetalLB.Namespace != "" {
		ns = st.MetalLB.Namespace
	}
	c := client.New(kinds.APISocket(l, node))
	defer c.Close()
	if err := readObjects(ctx, c, ns, node, &si); err != nil {
		si.APIError = fmt.Sprintf("the cluster API of %s: %v", node, err)
	}
	return si
}

func readObjects(ctx context.Context, c *client.Client, ns, node string, si *SpeakerInfo) error {
	peers, _, err := kube.ListOf[api.BGPPeer](ctx, c, ns, kube.ListOptions{})
	if err != nil {
		return err
	}
	for _, p := range peers {
		pc := PeerConfig{
			Name: p.Name, Address: p.Spec.Address, MyASN: p.Spec.MyASN, PeerASN: p.Spec.ASN,
			EBGPMultiHop: p.Spec.EBGPMultiHop, RouterID: p.Spec.RouterID,
		}
		if p.Spec.HoldTime != nil {
			pc.HoldTime = p.Spec.HoldTime.Duration.String()
		}
		for _, s := range p.Spec.NodeSelectors {
			pc.NodeSelectors = append(pc.NodeSelectors, s.String())
		}
		switch {
		case p.Spec.Password != "":
			pc.Password = secretOf(p.Spec.Password, "spec.password")
		case p.Spec.PasswordSecret.Name != "":
			sns := p.Spec.PasswordSecret.Namespace
			if sns == "" {
				sns = ns
			}
			from := "Secret " + sns + "/" + p.Spec.PasswordSecret.Name
			pc.Password = Secret{Set: true, From: from}
			if s, err := kube.Get[api.Secret](ctx, c, sns, p.Spec.PasswordSecret.Name); err == nil && s != nil {
				if v, ok := s.Value("password"); ok {
					pc.Password = secretOf(string(v), from)
				}
			}
		}
		si.Peers = append(si.Peers, pc)
	}
	ads, _, err := kube.ListOf[api.BGPAdvertisement](ctx, c, ns, kube.ListOptions{})
	if err != nil {
		return err
	}
	for _, a := range ads {
		ac := AdvertisementConfig{Name: a.Name, Pools: a.Spec.IPAddressPools, Peers: a.Spec.Peers}
		for _, s := range a.Spec.IPAddressPoolSelectors {
			ac.PoolSelectors = append(ac.PoolSelectors, s.String())
		}
		for _, s := range a.Spec.NodeSelectors {
			ac.NodeSelectors = append(ac.NodeSelectors, s.String())
		}
		si.Advertisements = append(si.Advertisements, ac)
	}
	if n, err := kube.Get[api.Node](ctx, c, "", node); err == nil && n != nil {
		si.NodeLabels = n.Labels
	}
	svcs, _, err := kube.ListOf[api.Service](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	slicesAll, _, err := kube.ListOf[api.EndpointSlice](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	pods, _, err := kube.ListOf[api.Pod](ctx, c, "", kube.ListOptions{})
	if err != nil {
		return err
	}
	for _, s := range svcs {
		if s.Spec.Type != "LoadBalancer" {
			continue
		}
		info := ServiceInfo{Namespace: s.Namespace, Name: s.Name, Selector: api.LabelsString(s.Spec.Selector)}
		for _, p := range s.Spec.Ports {
			info.Ports = append(info.Ports, int(p.Port))
		}
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				info.IPs = append(info.IPs, in.IP)
			}
		}
		for _, es := range slicesAll {
			if es.Namespace != s.Namespace || es.Labels[api.LabelServiceName] != s.Name {
				continue
			}
			for _, ep := range es.Endpoints {
				if ep.Conditions.CanServe() {
					info.Endpoints += len(ep.Addresses)
				}
			}
		}
		if len(s.Spec.Selector) > 0 {
			for _, p := range pods {
				if p.Namespace == s.Namespace && matchLabels(s.Spec.Selector, p.Labels) {
					info.Pods++
				}
			}
		}
		si.Services = append(si.Services, info)
	}
	sort.Slice(si.Services, func(i, j int) bool {
		return si.Services[i].Namespace+"/"+si.Services[i].Name < si.Services[j].Namespace+"/"+si.Services[j].Name
	})
	return nil
}

func matchLabels(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// secretOf fingerprints a password.
func secretOf(pw, from string) Secret {
	sum := sha256.Sum256([]byte(pw))
	return Secret{Set: true, Fingerprint: hex.EncodeToString(sum[:4]), From: from}
}

// describeSecret is "a password (sha256 1a2b3c4d, spec.password)".
func describeSecret(s Secret) string {
	if !s.Set {
		return "no password"
	}
	var parts []string
	if s.Fingerprint != "" {
		parts = append(parts, "sha256 "+s.Fingerprint+"…")
	}
	if s.From != "" {
		parts = append(parts, s.From)
	}
	if len(parts) == 0 {
		return "a password"
	}
	return "a password (" + joinComma(parts) + ")"
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

// sessionFor returns the speaker's session for a BGPPeer name.
func (si *SpeakerInfo) session(name string) *speaker.SessionStatus {
	if si.Status == nil {
		return nil
	}
	for i := range si.Status.Sessions {
		if si.Status.Sessions[i].Name == name {
			return &si.Status.Sessions[i]
		}
	}
	return nil
}

func (si *SpeakerInfo) peerConfig(name string) *PeerConfig {
	for i := range si.Peers {
		if si.Peers[i].Name == name {
			return &si.Peers[i]
		}
	}
	return nil
}

func (si *SpeakerInfo) service(key string) *ServiceInfo {
	for i := range si.Services {
		if si.Services[i].Namespace+"/"+si.Services[i].Name == key {
			return &si.Services[i]
		}
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func speakerSocket(l *lab.Lab, node string) string { return kinds.SpeakerSocket(l.Name, node) }
