package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onp-lab/onp/metallb/api"
)

// Helpers that write one YAML document of a kind in metallb-system.
func doc(apiVersion, kind, name, body string) string {
	return fmt.Sprintf("apiVersion: %s\nkind: %s\nmetadata: {name: %s, namespace: metallb-system}\n%s\n---\n", apiVersion, kind, name, body)
}
func pool(name, spec string) string {
	return doc("metallb.io/v1beta1", "IPAddressPool", name, "spec: "+spec)
}
func peer(name, spec string) string { return doc("metallb.io/v1beta2", "BGPPeer", name, "spec: "+spec) }
func adv(name, spec string) string {
	return doc("metallb.io/v1beta1", "BGPAdvertisement", name, "spec: "+spec)
}
func bfd(name, spec string) string {
	return doc("metallb.io/v1beta1", "BFDProfile", name, "spec: "+spec)
}
func community(name, spec string) string {
	return doc("metallb.io/v1beta1", "Community", name, "spec: "+spec)
}
func secret(name, body string) string { return doc("v1", "Secret", name, body) }
func node(name, labels string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Node\nmetadata: {name: %s, labels: {%s}}\n---\n", name, labels)
}

const (
	goodPeer = "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3}"
	goodPool = "{addresses: [10.0.0.10-10.0.0.20]}"
)

func resources(t *testing.T, yaml string) ClusterResources {
	t.Helper()
	docs, err := api.Decode("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("test input does not decode: %v", err)
	}
	objs := make([]api.Object, len(docs))
	for i, d := range docs {
		objs[i] = d.Object
	}
	return ResourcesFrom("", objs)
}

func errorLines(err error) []string {
	var l Errors
	if !errors.As(err, &l) {
		return []string{"not config.Errors: " + err.Error()}
	}
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = e.Error()
	}
	return out
}

// TestRejects covers every reject of the MetalLB reference (§1), each with
// its exact message.
func TestRejects(t *testing.T) {
	cases := []struct {
		name      string
		yaml      string
		want      []string
		transient bool
	}{
		// General.
		{"pool outside metallb namespace",
			"apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: default}\nspec: " + goodPool,
			[]string{"IPAddressPool default/p: metadata.namespace: resource must be created in metallb-system namespace"}, false},
		{"peer without namespace",
			"apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec: " + goodPeer,
			[]string{"BGPPeer p: metadata.namespace: resource must be created in metallb-system namespace"}, false},

		// IPAddressPool.
		{"pool without addresses", pool("p", "{addresses: []}"),
			[]string{"IPAddressPool metallb-system/p: spec.addresses: pool has no prefixes defined"}, false},
		{"invalid CIDR", pool("p", `{addresses: ["10.0.0.0/33"]}`),
			[]string{`IPAddressPool metallb-system/p: spec.addresses[0]: invalid CIDR "10.0.0.0/33" in pool "p": invalid CIDR "10.0.0.0/33"`}, false},
		{"range with invalid start", pool("p", `{addresses: ["10.0.0.x-10.0.0.5"]}`),
			[]string{`IPAddressPool metallb-system/p: spec.addresses[0]: invalid CIDR "10.0.0.x-10.0.0.5" in pool "p": invalid IP range "10.0.0.x-10.0.0.5": invalid start IP "10.0.0.x"`}, false},
		{"range with invalid end", pool("p", `{addresses: ["10.0.0.1 - nope"]}`),
			[]string{`IPAddressPool metallb-system/p: spec.addresses[0]: invalid CIDR "10.0.0.1 - nope" in pool "p": invalid IP range "10.0.0.1 - nope": invalid end IP " nope"`}, false},
		{"range start after end", pool("p", `{addresses: ["10.0.0.5-10.0.0.1"]}`),
			[]string{`IPAddressPool metallb-system/p: spec.addresses[0]: invalid CIDR "10.0.0.5-10.0.0.1" in pool "p": invalid IP range "10.0.0.5-10.0.0.1": start IP "10.0.0.5" is after the end IP "10.0.0.1"`}, false},
		{"range across families", pool("p", `{addresses: ["10.0.0.1-fc00::1"]}`),
			[]string{`IPAddressPool metallb-system/p: spec.addresses[0]: invalid CIDR "10.0.0.1-fc00::1" in pool "p": invalid IP range "10.0.0.1-fc00::1": start IP "10.0.0.1" and end IP "fc00::1" are of different families`}, false},
		{"overlap between pools", pool("a", "{addresses: [10.0.0.0/24]}") + pool("b", "{addresses: [10.0.0.128/25]}"),
			[]string{`IPAddressPool metallb-system/b: spec.addresses[0]: CIDR "10.0.0.128/25" in pool "b" overlaps with already defined CIDR "10.0.0.0/24" in pool "a"`}, false},
		{"overlap inside one pool", pool("p", "{addresses: [10.0.0.0/24, 10.0.0.10-10.0.0.20]}"),
			[]string{`IPAddressPool metallb-system/p: spec.addresses[1]: CIDR "10.0.0.10/31" in pool "p" overlaps with already defined CIDR "10.0.0.0/24" in pool "p"`}, false},
		{"overlap of IPv6 range and CIDR", pool("a", `{addresses: ["fc00::/120"]}`) + pool("b", `{addresses: ["fc00::ff - fc00::1ff"]}`),
			[]string{`IPAddressPool metallb-system/b: spec.addresses[0]: CIDR "fc00::ff/128" in pool "b" overlaps with already defined CIDR "fc00::/120" in pool "a"`}, false},
		{"duplicate pool", pool("p", goodPool) + pool("p", "{addresses: [10.1.0.0/24]}"),
			[]string{`IPAddressPool metallb-system/p: duplicate definition of pool "p"`}, false},
		{"duplicate namespaces in serviceAllocation", pool("p", "{addresses: [10.0.0.0/24], serviceAllocation: {namespaces: [a, b, a]}}"),
			[]string{`IPAddressPool metallb-system/p: spec.serviceAllocation.namespaces[2]: duplicate definition in namespaces field ("a")`}, false},
		{"duplicate service selectors", pool("p", "{addresses: [10.0.0.0/24], serviceAllocation: {serviceSelectors: [{matchLabels: {app: x}}, {matchLabels: {app: x}}]}}"),
			[]string{`IPAddressPool metallb-system/p: spec.serviceAllocation.serviceSelectors[1]: duplicate definition of serviceSelectors "app=x"`}, false},
		{"duplicate namespace selectors", pool("p", "{addresses: [10.0.0.0/24], serviceAllocation: {namespaceSelectors: [{matchExpressions: [{key: a, operator: In, values: [x, y]}]}, {matchExpressions: [{key: a, operator: In, values: [y, x]}]}]}}"),
			[]string{`IPAddressPool metallb-system/p: spec.serviceAllocation.namespaceSelectors[1]: duplicate definition of namespaceSelectors "a in (x,y)"`}, false},

		// BGPPeer.
		{"missing myASN", peer("p", "{peerASN: 64512, peerAddress: 192.168.126.3}"),
			[]string{"BGPPeer metallb-system/p: spec.myASN: missing local ASN"}, false},
		{"missing peer ASN", peer("p", "{myASN: 64512, peerAddress: 192.168.126.3}"),
			[]string{"BGPPeer metallb-system/p: spec.peerASN: missing peer ASN and dynamicASN"}, false},
		{"peer ASN and dynamicASN", peer("p", "{myASN: 64512, peerASN: 64512, dynamicASN: internal, peerAddress: 192.168.126.3}"),
			[]string{"BGPPeer metallb-system/p: spec.dynamicASN: both peer ASN and dynamicASN specified"}, false},
		{"invalid dynamicASN", peer("p", "{myASN: 64512, dynamicASN: sideways, peerAddress: 192.168.126.3}"),
			[]string{`BGPPeer metallb-system/p: spec.dynamicASN: invalid dynamicASN sideways (use "internal" or "external")`}, false},
		{"ebgpMultiHop on iBGP", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, ebgpMultiHop: true}"),
			[]string{"BGPPeer metallb-system/p: spec.ebgpMultiHop: invalid ebgp-multihop parameter set for an ibgp peer"}, false},
		{"no address and no interface", peer("p", "{myASN: 64512, peerASN: 64512}"),
			[]string{"BGPPeer metallb-system/p: spec.peerAddress: peer has no Address or Interface specified"}, false},
		{"address and interface", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, interface: eth0}"),
			[]string{"BGPPeer metallb-system/p: spec.interface: peer has both Address and Interface specified"}, false},
		{"interface with newline", peer("p", `{myASN: 64512, peerASN: 64512, interface: "eth0\nx"}`),
			[]string{`BGPPeer metallb-system/p: spec.interface: interface for peer "metallb-system"/"p" contains invalid characters`}, false},
		{"invalid peer address", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.300}"),
			[]string{`BGPPeer metallb-system/p: spec.peerAddress: invalid BGPPeer address "192.168.126.300"`}, false},
		{"peer address with zone", peer("p", `{myASN: 64512, peerASN: 64512, peerAddress: "fe80::1%eth0"}`),
			[]string{`BGPPeer metallb-system/p: spec.peerAddress: invalid BGPPeer address "fe80::1%eth0"`}, false},
		{"invalid source address", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, sourceAddress: here}"),
			[]string{`BGPPeer metallb-system/p: spec.sourceAddress: invalid source IP "here"`}, false},
		{"invalid router ID", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, routerID: 1.2.3}"),
			[]string{`BGPPeer metallb-system/p: spec.routerID: invalid router ID "1.2.3"`}, false},
		{"IPv6 router ID", peer("p", `{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, routerID: "fc00::1"}`),
			[]string{`BGPPeer metallb-system/p: spec.routerID: invalid router ID "fc00::1": a BGP router ID is a 32-bit value written as an IPv4 address`}, false},
		{"peerPort 0", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, peerPort: 0}"),
			[]string{"BGPPeer metallb-system/p: spec.peerPort: Invalid value: 0: spec.peerPort in body should be greater than or equal to 1"}, false},
		{"peerPort too high", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, peerPort: 20000}"),
			[]string{"BGPPeer metallb-system/p: spec.peerPort: Invalid value: 20000: spec.peerPort in body should be less than or equal to 16384"}, false},
		{"hold time below 3s", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, holdTime: 1s}"),
			[]string{`BGPPeer metallb-system/p: spec.holdTime: invalid BGPPeer timers: invalid hold time "1s": must be 0 or >=3s`}, false},
		{"keepalive above hold", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, holdTime: 10s, keepaliveTime: 20s}"),
			[]string{`BGPPeer metallb-system/p: spec.keepaliveTime: invalid BGPPeer timers: invalid keepaliveTime "20s", must be lower than holdTime "10s"`}, false},
		{"keepalive alone derives a too short hold", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, keepaliveTime: 500ms}"),
			[]string{`BGPPeer metallb-system/p: spec.keepaliveTime: invalid BGPPeer timers: invalid hold time "1.5s" (three times keepaliveTime "500ms"): must be 0 or >=3s`}, false},
		{"connectTime zero", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, connectTime: 0s}"),
			[]string{"BGPPeer metallb-system/p: spec.connectTime: connect time should be between 1 seconds to 65535 (got 0s)"}, false},
		{"connectTime too long", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, connectTime: 20h}"),
			[]string{"BGPPeer metallb-system/p: spec.connectTime: connect time should be between 1 seconds to 65535 (got 20h0m0s)"}, false},
		{"connectTime fractional", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, connectTime: 1500ms}"),
			[]string{"BGPPeer metallb-system/p: spec.connectTime: connect time should contain a whole number of seconds (got 1.5s)"}, false},
		{"duplicate node selectors", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, nodeSelectors: [{matchLabels: {a: b}}, {matchLabels: {a: b}}]}"),
			[]string{`BGPPeer metallb-system/p: spec.nodeSelectors[1]: duplicate definition of nodeSelectors "a=b"`}, false},
		{"invalid node selector operator", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, nodeSelectors: [{matchExpressions: [{key: a, operator: Has}]}]}"),
			[]string{`BGPPeer metallb-system/p: spec.nodeSelectors[0]: invalid label selector: matchExpressions[0]: operator: "Has" is not a valid label selector operator (use In, NotIn, Exists or DoesNotExist)`}, false},
		{"In selector without values", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, nodeSelectors: [{matchExpressions: [{key: a, operator: In}]}]}"),
			[]string{`BGPPeer metallb-system/p: spec.nodeSelectors[0]: invalid label selector: matchExpressions[0]: values: for 'In', 'NotIn' operators, values set can't be empty`}, false},
		{"duplicate match expression values", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, nodeSelectors: [{matchExpressions: [{key: a, operator: In, values: [x, x]}]}]}"),
			[]string{`BGPPeer metallb-system/p: spec.nodeSelectors[0].matchExpressions[0].values: duplicate definition of match expression value in label selector "x"`}, false},
		{"duplicate match expressions", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, nodeSelectors: [{matchExpressions: [{key: a, operator: Exists}, {key: a, operator: Exists}]}]}"),
			[]string{`BGPPeer metallb-system/p: spec.nodeSelectors[0].matchExpressions[1]: duplicate definition of match expressions "a"`}, false},
		{"password and passwordSecret", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, password: x, passwordSecret: {name: s}}"),
			[]string{`BGPPeer metallb-system/p: spec.passwordSecret: can not have both password and secret ref set in peer config "metallb-system"/"p"`}, false},
		{"password secret of the wrong type",
			peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, passwordSecret: {name: s}}") + secret("s", "type: Opaque\nstringData: {password: x}"),
			[]string{`BGPPeer metallb-system/p: spec.passwordSecret: failed to parse peer p password secret: secret type mismatch on "metallb-system"/"s", type "kubernetes.io/basic-auth" is expected`}, false},
		{"password secret without password key",
			peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, passwordSecret: {name: s}}") + secret("s", "type: kubernetes.io/basic-auth\ndata: {username: dXNlcg==}"),
			[]string{`BGPPeer metallb-system/p: spec.passwordSecret: failed to parse peer p password secret: password not specified in the secret "metallb-system"/"s"`}, false},
		{"password secret in another namespace", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, passwordSecret: {name: s, namespace: default}}"),
			[]string{`BGPPeer metallb-system/p: spec.passwordSecret.namespace: the password secret must be in the metallb-system namespace, not "default"`}, false},
		{"password secret missing", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, passwordSecret: {name: s}}"),
			[]string{`BGPPeer metallb-system/p: spec.passwordSecret: failed to parse peer p password secret: secret ref not found for peer config "metallb-system"/"p" (create Secret metallb-system/s)`}, true},
		{"missing BFD profile", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, bfdProfile: fast}"),
			[]string{"BGPPeer metallb-system/p: spec.bfdProfile: peer p referencing non existing bfd profile fast"}, true},
		{"duplicate peer address (FRR mode)", peer("p", goodPeer) + peer("q", goodPeer),
			[]string{"BGPPeer metallb-system/q: spec.peerAddress: peer 192.168.126.3 already exists, FRR mode doesn't support duplicate BGPPeers selecting the same node (BGPPeer p has the same address)"}, false},
		{"different router IDs on one node", peer("p", goodPeer) + peer("q", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.4, routerID: 10.1.1.1}"),
			[]string{`BGPPeer metallb-system/q: spec.routerID: peer q has RouterID "10.1.1.1" different from "" of peer p, in FRR mode peers selecting the same node must all have the same RouterID`}, false},
		{"different myASN on one node", peer("p", goodPeer) + peer("q", "{myASN: 64513, peerASN: 64512, peerAddress: 192.168.126.4}"),
			[]string{"BGPPeer metallb-system/q: spec.myASN: peer 192.168.126.4 has myAsn different from 192.168.126.3, in FRR mode peers selecting the same node must have the same myAsn within the same VRF"}, false},
		{"duplicate peer name", peer("p", goodPeer) + peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.4}"),
			[]string{`BGPPeer metallb-system/p: duplicate definition of BGPPeer "p"`}, false},
		{"BFD echo with an IPv6 pool",
			bfd("echo", "{echoMode: true}") + peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, bfdProfile: echo}") +
				pool("v6", `{addresses: ["fc00::/120"]}`) + adv("a", "{}"),
			[]string{"BGPAdvertisement metallb-system/a: pool v6 has bgpadvertisement a which references peer p which has bfd echo enabled, which is not possible"}, false},

		// BGPAdvertisement.
		{"aggregationLength above 32", pool("p", goodPool) + adv("a", "{aggregationLength: 33}"),
			[]string{"BGPAdvertisement metallb-system/a: spec.aggregationLength: invalid aggregation length 33 for IPv4"}, false},
		{"aggregationLength 0", pool("p", goodPool) + adv("a", "{aggregationLength: 0}"),
			[]string{"BGPAdvertisement metallb-system/a: spec.aggregationLength: Invalid value: 0: spec.aggregationLength in body should be greater than or equal to 1"}, false},
		{"aggregationLengthV6 above 128", pool("p", goodPool) + adv("a", "{aggregationLengthV6: 129}"),
			[]string{"BGPAdvertisement metallb-system/a: spec.aggregationLengthV6: invalid aggregation length 129 for IPv6"}, false},
		{"aggregationLength shorter than the pool's prefix", pool("p", "{addresses: [10.0.0.0/24]}") + adv("a", "{aggregationLength: 16}"),
			[]string{`BGPAdvertisement metallb-system/a: spec.aggregationLength: invalid aggregation length 16: prefix 24 in this pool is more specific than the aggregation length for addresses 10.0.0.0/24 (pool "p")`}, false},
		{"aggregationLength shorter than a range's largest block", pool("p", goodPool) + adv("a", "{ipAddressPools: [p], aggregationLength: 29}"),
			[]string{`BGPAdvertisement metallb-system/a: spec.aggregationLength: invalid aggregation length 29: prefix 30 in this pool is more specific than the aggregation length for addresses 10.0.0.10-10.0.0.20 (pool "p")`}, false},
		{"aggregationLengthV6 shorter than the pool's prefix", pool("p", `{addresses: ["fc00::/112"]}`) + adv("a", "{aggregationLengthV6: 64}"),
			[]string{`BGPAdvertisement metallb-system/a: spec.aggregationLengthV6: invalid aggregation length 64: prefix 112 in this pool is more specific than the aggregation length for addresses fc00::/112 (pool "p")`}, false},
		{"malformed standard community", pool("p", goodPool) + adv("a", `{communities: ["65536:1"]}`),
			[]string{`BGPAdvertisement metallb-system/a: spec.communities[0]: invalid community "65536:1" in BGP advertisement: invalid community value: invalid section "65536" of community "65536:1": must be a number from 0 to 65535`}, false},
		{"malformed large community marker", pool("p", goodPool) + adv("a", `{communities: ["big:1:2:3"]}`),
			[]string{`BGPAdvertisement metallb-system/a: spec.communities[0]: invalid community "big:1:2:3" in BGP advertisement: invalid community value: invalid marker for large community, expected community to be of format large:<uint32>:<uint32>:<uint32> but got "big:1:2:3" instead`}, false},
		{"malformed large community value", pool("p", goodPool) + adv("a", `{communities: ["large:1:2:4294967296"]}`),
			[]string{`BGPAdvertisement metallb-system/a: spec.communities[0]: invalid community "large:1:2:4294967296" in BGP advertisement: invalid community value: invalid section "4294967296" of community "large:1:2:4294967296": must be a number from 0 to 4294967295`}, false},
		{"unknown community alias", pool("p", goodPool) + adv("a", `{communities: [no-export]}`),
			[]string{`BGPAdvertisement metallb-system/a: spec.communities[0]: invalid community "no-export" in BGP advertisement: invalid community format: no-export (it is neither A:B, large:A:B:C nor the name of an alias defined in a Community)`}, true},
		{"duplicate ipAddressPools", pool("p", goodPool) + adv("a", "{ipAddressPools: [p, p]}"),
			[]string{`BGPAdvertisement metallb-system/a: spec.ipAddressPools[1]: duplicate definition of ipAddressPools "p"`}, false},
		{"duplicate communities", pool("p", goodPool) + adv("a", `{communities: ["1:1", "1:1"]}`),
			[]string{`BGPAdvertisement metallb-system/a: spec.communities[1]: duplicate definition of community "1:1"`}, false},
		{"duplicate peers", pool("p", goodPool) + peer("x", goodPeer) + adv("a", "{peers: [x, x]}"),
			[]string{`BGPAdvertisement metallb-system/a: spec.peers[1]: duplicate definition of peers "x"`}, false},
		{"duplicate ipAddressPoolSelectors", pool("p", goodPool) + adv("a", "{ipAddressPoolSelectors: [{matchLabels: {a: b}}, {matchLabels: {a: b}}]}"),
			[]string{`BGPAdvertisement metallb-system/a: spec.ipAddressPoolSelectors[1]: duplicate definition of ipAddressPoolSelectors "a=b"`}, false},
		{"duplicate advertisement nodeSelectors", pool("p", goodPool) + adv("a", "{nodeSelectors: [{matchLabels: {a: b}}, {matchLabels: {a: b}}]}"),
			[]string{`BGPAdvertisement metallb-system/a: spec.nodeSelectors[1]: duplicate definition of nodeSelectors "a=b"`}, false},
		{"duplicate advertisement serviceSelectors", pool("p", goodPool) + adv("a", "{serviceSelectors: [{matchLabels: {a: b}}, {matchLabels: {a: b}}]}"),
			[]string{`BGPAdvertisement metallb-system/a: spec.serviceSelectors[1]: duplicate definition of serviceSelectors "a=b"`}, false},
		{"identical advertisements", pool("p", goodPool) + adv("a", "{localPref: 5}") + adv("a", "{localPref: 5}"),
			[]string{`BGPAdvertisement metallb-system/a: duplicate definition of bgpadvertisements: two identical objects named "a"`}, false},
		{"serviceSelectors with aggregationLength", pool("p", "{addresses: [10.0.0.0/24]}") + adv("a", "{aggregationLength: 24, serviceSelectors: [{matchLabels: {a: b}}]}"),
			[]string{"BGPAdvertisement metallb-system/a: spec.aggregationLength: serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in a"}, false},
		{"serviceSelectors with aggregationLengthV6", pool("p", "{addresses: [10.0.0.0/24]}") + adv("a", "{aggregationLengthV6: 120, serviceSelectors: [{matchLabels: {a: b}}]}"),
			[]string{"BGPAdvertisement metallb-system/a: spec.aggregationLengthV6: serviceSelectors and aggregationLengthV6 are mutually exclusive, both cannot be set in a"}, false},
		{"conflicting localPref", node("n1", "") + pool("p", goodPool) + adv("a", "{localPref: 100}") + adv("b", "{localPref: 200}"),
			[]string{`BGPAdvertisement metallb-system/b: spec.localPref: invalid local preference 200: local preference 100 was already set for the same type of BGP update by BGPAdvertisement "a". Check existing BGP advertisements with common pools and aggregation lengths (pool "p")`}, false},
		{"conflicting localPref on a dual-stack pool with one length different", node("n1", "") + pool("p", `{addresses: [10.0.0.0/24, "fc00::/120"]}`) +
			adv("a", "{localPref: 100}") + adv("b", "{localPref: 200, aggregationLength: 30}"),
			[]string{`BGPAdvertisement metallb-system/b: spec.localPref: invalid local preference 200: local preference 100 was already set for the same type of BGP update by BGPAdvertisement "a". Check existing BGP advertisements with common pools and aggregation lengths (pool "p")`}, false},

		// BFDProfile.
		{"detectMultiplier out of range", bfd("b", "{detectMultiplier: 1}"),
			[]string{"BFDProfile metallb-system/b: spec.detectMultiplier: invalid detect multiplier value: invalid value 1, must be in 2-255 range"}, false},
		{"receiveInterval out of range", bfd("b", "{receiveInterval: 5}"),
			[]string{"BFDProfile metallb-system/b: spec.receiveInterval: invalid receive interval value: invalid value 5, must be in 10-60000 range"}, false},
		{"transmitInterval out of range", bfd("b", "{transmitInterval: 60001}"),
			[]string{"BFDProfile metallb-system/b: spec.transmitInterval: invalid transmit interval value: invalid value 60001, must be in 10-60000 range"}, false},
		{"echoInterval out of range", bfd("b", "{echoInterval: 9}"),
			[]string{"BFDProfile metallb-system/b: spec.echoInterval: invalid echo interval value: invalid value 9, must be in 10-60000 range"}, false},
		{"minimumTtl out of range", bfd("b", "{minimumTtl: 255}"),
			[]string{"BFDProfile metallb-system/b: spec.minimumTtl: invalid minimum ttl value: invalid value 255, must be in 1-254 range"}, false},
		{"duplicate BFD profile", bfd("b", "{}") + bfd("b", "{detectMultiplier: 5}"),
			[]string{"BFDProfile metallb-system/b: found duplicate bfd profile name b"}, false},

		// Community.
		{"invalid alias value", community("c", `{communities: [{name: x, value: "1:2:3"}]}`),
			[]string{`Community metallb-system/c: spec.communities[0].value: parsing community "x": invalid community format: 1:2:3`}, false},
		{"alias defined twice in one object", community("c", `{communities: [{name: x, value: "1:2"}, {name: x, value: "1:3"}]}`),
			[]string{`Community metallb-system/c: spec.communities[1].name: duplicate definition of community "x"`}, false},
		{"alias defined in two objects", community("c1", `{communities: [{name: x, value: "1:2"}]}`) + community("c2", `{communities: [{name: x, value: "large:1:2:3"}]}`),
			[]string{`Community metallb-system/c2: spec.communities[0].name: duplicate definition of community "x"`}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := For(resources(t, tc.yaml))
			if err == nil {
				t.Fatalf("accepted, want %q", tc.want)
			}
			if cfg != nil {
				t.Errorf("got a config together with an error")
			}
			got := errorLines(err)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if OnlyTransient(err) != tc.transient {
				t.Errorf("OnlyTransient = %v, want %v", !tc.transient, tc.transient)
			}
		})
	}
}

// TestAccepts lists configurations MetalLB accepts, including the cases
// next to the rejects above.
func TestAccepts(t *testing.T) {
	cases := []struct {
		name string
		yaml string
	}{
		{"empty", ""},
		{"CIDR with host bits and spaces", pool("p", `{addresses: [" 10.0.0.5/24 "]}`)},
		{"single address range", pool("p", `{addresses: ["10.0.0.1-10.0.0.1"]}`)},
		{"IPv6 range", pool("p", `{addresses: ["fc00::1 - fc00::ff"]}`)},
		{"adjacent pools", pool("a", "{addresses: [10.0.0.0/25]}") + pool("b", "{addresses: [10.0.0.128/25]}")},
		{"hold 0 disables keepalives", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, holdTime: 0s}")},
		{"hold 3s", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, holdTime: 3s}")},
		{"eBGP multihop", peer("p", "{myASN: 64512, peerASN: 4200000000, peerAddress: 192.168.126.3, ebgpMultiHop: true}")},
		{"dynamic ASN", peer("p", "{myASN: 64512, dynamicASN: external, peerAddress: 192.168.126.3}")},
		{"unnumbered", peer("p", "{myASN: 64512, peerASN: 64512, interface: eth0}")},
		{"same address in two VRFs", peer("p", goodPeer) + peer("q", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, vrf: red}")},
		{"peers on disjoint nodes", node("a", "rack: a") + node("b", "rack: b") +
			peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, nodeSelectors: [{matchLabels: {rack: a}}]}") +
			peer("q", "{myASN: 64513, peerASN: 64512, peerAddress: 192.168.126.3, routerID: 1.1.1.1, nodeSelectors: [{matchLabels: {rack: b}}]}")},
		{"password secret", peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, passwordSecret: {name: s}}") +
			secret("s", "type: kubernetes.io/basic-auth\ndata: {password: c2VjcmV0}")},
		{"BFD profile at the range edges", bfd("b", "{receiveInterval: 10, transmitInterval: 60000, detectMultiplier: 255, echoInterval: 10, minimumTtl: 1}") +
			peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, bfdProfile: b}")},
		{"BFD echo with an IPv4 pool", bfd("echo", "{echoMode: true}") + peer("p", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, bfdProfile: echo}") +
			pool("v4", goodPool) + adv("a", "{}")},
		{"localPref differing by aggregation length", node("n1", "") + pool("p", "{addresses: [10.0.0.0/24]}") +
			adv("a", "{localPref: 100}") + adv("b", "{localPref: 200, aggregationLength: 24}")},
		{"localPref differing by peers", node("n1", "") + pool("p", goodPool) + peer("x", goodPeer) + peer("y", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.4}") +
			adv("a", "{localPref: 100, peers: [x]}") + adv("b", "{localPref: 200, peers: [y]}")},
		{"localPref differing by nodes", node("n1", "z: a") + node("n2", "z: b") + pool("p", goodPool) +
			adv("a", "{localPref: 100, nodeSelectors: [{matchLabels: {z: a}}]}") + adv("b", "{localPref: 200, nodeSelectors: [{matchLabels: {z: b}}]}")},
		{"localPref with service selectors", node("n1", "") + pool("p", goodPool) +
			adv("a", "{localPref: 100}") + adv("b", "{localPref: 200, serviceSelectors: [{matchLabels: {a: b}}]}")},
		{"serviceSelectors with default aggregation", pool("p", goodPool) + adv("a", "{aggregationLength: 32, aggregationLengthV6: 128, serviceSelectors: [{matchLabels: {a: b}}]}")},
		{"same spec under two names", pool("p", goodPool) + adv("a", "{localPref: 5}") + adv("b", "{localPref: 5}")},
		{"large community and alias", community("c", `{communities: [{name: no-advertise, value: "65535:65282"}, {name: big, value: "large:64512:1:2"}]}`) +
			pool("p", goodPool) + adv("a", `{communities: [no-advertise, big, "large:1:2:3"]}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := For(resources(t, tc.yaml)); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

// TestAllErrorsCollected checks that every bad object is reported, not only
// the first.
func TestAllErrorsCollected(t *testing.T) {
	y := pool("p", "{addresses: []}") + peer("q", "{peerASN: 1, peerAddress: x}") + bfd("b", "{detectMultiplier: 1}")
	_, err := For(resources(t, y))
	want := []string{
		"BFDProfile metallb-system/b: spec.detectMultiplier: invalid detect multiplier value: invalid value 1, must be in 2-255 range",
		"BGPPeer metallb-system/q: spec.myASN: missing local ASN",
		`BGPPeer metallb-system/q: spec.peerAddress: invalid BGPPeer address "x"`,
		"IPAddressPool metallb-system/p: spec.addresses: pool has no prefixes defined",
	}
	if got := errorLines(err); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestErrorSources(t *testing.T) {
	res := resources(t, pool("p", "{addresses: []}"))
	res.Sources = map[string]api.Source{"IPAddressPool metallb-system/p": {File: "bgp.yaml", Line: 7, Col: 1}}
	_, err := For(res)
	if got, want := err.Error(), "bgp.yaml:7:1: IPAddressPool metallb-system/p: spec.addresses: pool has no prefixes defined"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCustomNamespace(t *testing.T) {
	res := resources(t, "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: lb}\nspec: "+goodPool)
	res.Namespace = "lb"
	if _, err := For(res); err != nil {
		t.Fatal(err)
	}
	res.Namespace = ""
	if _, err := For(res); err == nil || !strings.Contains(err.Error(), "resource must be created in metallb-system namespace") {
		t.Fatalf("got %v", err)
	}
}

func TestWarnings(t *testing.T) {
	y := pool("p", goodPool) + adv("a", "{ipAddressPools: [p, q], peers: [nobody]}") +
		doc("metallb.io/v1beta1", "L2Advertisement", "l2", "spec: {}") +
		peer("x", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.3, disableMP: true}")
	cfg, err := For(resources(t, y))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"BGPPeer metallb-system/x: spec.disableMP: disable mp is deprecated and has no effect since it's the default behavior now",
		`BGPAdvertisement metallb-system/a: spec.peers[0]: BGPPeer "nobody" does not exist; nothing is announced to it until it is created`,
		`BGPAdvertisement metallb-system/a: spec.ipAddressPools[1]: IPAddressPool "q" does not exist; the advertisement applies to it once it is created`,
		"L2Advertisement metallb-system/l2: layer 2 mode is not supported by this speaker: the advertisement is stored but nothing is announced with ARP/NDP; use a BGPAdvertisement",
	}
	if strings.Join(cfg.Warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(cfg.Warnings, "\n"), strings.Join(want, "\n"))
	}
	if !cfg.Pool("p").L2Advertised {
		t.Error("pool p should be marked as selected by an L2Advertisement")
	}
}

// TestSeedLab decodes and validates the reference lab's files verbatim.
func TestSeedLab(t *testing.T) {
	var objs []api.Object
	for _, f := range []string{"01-metallb-operator.yaml", "02-metallb-bgp.yaml", "03-echoserver.yaml"} {
		b, err := os.ReadFile("../api/testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := api.Decode(f, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			objs = append(objs, d.Object)
		}
	}
	cfg, err := For(ResourcesFrom("", objs))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	p := cfg.Pool("onp-bgp-pool")
	if p == nil || len(cfg.Pools) != 1 {
		t.Fatalf("pools: %+v", cfg.Pools)
	}
	if got := fmt.Sprint(p.CIDRs); got != "[10.0.0.10/31 10.0.0.12/30 10.0.0.16/30 10.0.0.20/32]" {
		t.Errorf("pool prefixes %s", got)
	}
	if !p.AutoAssign || p.AvoidBuggyIPs || p.ServiceAllocation != nil || !p.Usable(netip.MustParseAddr("10.0.0.10")) || p.Usable(netip.MustParseAddr("10.0.0.21")) {
		t.Errorf("pool %+v", p)
	}
	peer := cfg.Peer("onp-bgp-peer")
	if peer == nil || len(cfg.Peers) != 1 {
		t.Fatalf("peers: %+v", cfg.Peers)
	}
	if peer.Addr != netip.MustParseAddr("192.168.126.3") || peer.MyASN != 64512 || peer.ASN != 64512 || peer.Port != 179 ||
		!peer.IsIBGP() || peer.HoldTime != nil || peer.Password != "" || !peer.SelectsNode(map[string]string{"any": "node"}) {
		t.Errorf("peer %+v", peer)
	}
	if len(p.BGPAdvertisements) != 1 || len(cfg.BGPAdvertisements) != 1 {
		t.Fatalf("advertisements: %+v", cfg.BGPAdvertisements)
	}
	a := p.BGPAdvertisements[0]
	if a.Name != "onp-bgp-advertisement" || a.AggregationLength != 32 || a.AggregationLengthV6 != 128 || a.LocalPref != 100 ||
		fmt.Sprint(a.Communities) != "[65535:65282]" || a.Communities[0].Value() != 0xffffff02 || fmt.Sprint(a.Peers) != "[onp-bgp-peer]" ||
		fmt.Sprint(a.Pools) != "[onp-bgp-pool]" {
		t.Errorf("advertisement %+v", a)
	}
}

func TestPeerModel(t *testing.T) {
	y := peer("p", "{myASN: 64512, peerASN: 4200000000, peerAddress: 192.168.126.3, sourceAddress: 192.168.126.2, peerPort: 180, holdTime: 9s, connectTime: 2s, routerID: 10.0.0.1, password: pw, nodeSelectors: [{matchLabels: {a: b}}]}") +
		peer("k", "{myASN: 64512, peerASN: 64512, peerAddress: 192.168.126.4, keepaliveTime: 10s, routerID: 10.0.0.1, nodeSelectors: [{matchLabels: {a: c}}]}")
	cfg, err := For(resources(t, y))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Peer("p")
	if p.IsIBGP() || p.Port != 180 || *p.HoldTime != 9*time.Second || *p.KeepaliveTime != 3*time.Second || *p.ConnectTime != 2*time.Second ||
		p.SrcAddr.String() != "192.168.126.2" || p.RouterID.String() != "10.0.0.1" || p.Password != "pw" ||
		!p.SelectsNode(map[string]string{"a": "b"}) || p.SelectsNode(map[string]string{"a": "c"}) {
		t.Errorf("peer p %+v", p)
	}
	k := cfg.Peer("k")
	if *k.HoldTime != 30*time.Second || *k.KeepaliveTime != 10*time.Second {
		t.Errorf("peer k timers %v/%v", *k.HoldTime, *k.KeepaliveTime)
	}
}

func TestServiceAllocationModel(t *testing.T) {
	y := "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {team: a}}\n---\n" +
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: team-b, labels: {team: b}}\n---\n" +
		pool("all", "{addresses: [10.0.0.0/28], serviceAllocation: {priority: 5}}") +
		pool("a", "{addresses: [10.0.1.0/28], serviceAllocation: {namespaceSelectors: [{matchLabels: {team: a}}], serviceSelectors: [{matchExpressions: [{key: tier, operator: NotIn, values: [db]}]}]}}")
	cfg, err := For(resources(t, y))
	if err != nil {
		t.Fatal(err)
	}
	all, a := cfg.Pool("all").ServiceAllocation, cfg.Pool("a").ServiceAllocation
	if !all.Matches("anything", nil) || all.Priority != 5 {
		t.Errorf("pool all: %+v", all)
	}
	if !a.Namespaces["team-a"] || a.Namespaces["team-b"] || !a.Matches("team-a", map[string]string{"tier": "web"}) ||
		a.Matches("team-a", map[string]string{"tier": "db"}) || a.Matches("team-b", nil) {
		t.Errorf("pool a: %+v", a)
	}
}
