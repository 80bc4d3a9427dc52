package api

import "maps"

// BGPPeer is metallb.io/v1beta2 BGPPeer, the hub (storage) version: a BGP
// session the speaker opens from the nodes it selects.
type BGPPeer struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       BGPPeerSpec `json:"spec,omitempty"`
	Status     struct{}    `json:"status,omitempty"`
}

// Dynamic ASN modes.
const (
	DynamicASNInternal = "internal"
	DynamicASNExternal = "external"
)

// BGPPeerSpec is the session's configuration.
type BGPPeerSpec struct {
	MyASN      uint32 `json:"myASN"`
	ASN        uint32 `json:"peerASN,omitempty"`
	LocalASN   uint32 `json:"localASN,omitempty"`
	DynamicASN string `json:"dynamicASN,omitempty"`
	Address    string `json:"peerAddress,omitempty"`
	Interface  string `json:"interface,omitempty"`
	SrcAddress string `json:"sourceAddress,omitempty"`
	// Port is nil when not written (the CRD default 179 applies); a written
	// value must be within 1..16384.
	Port                   *uint32         `json:"peerPort,omitempty"`
	HoldTime               *Duration       `json:"holdTime,omitempty"`
	KeepaliveTime          *Duration       `json:"keepaliveTime,omitempty"`
	ConnectTime            *Duration       `json:"connectTime,omitempty"`
	RouterID               string          `json:"routerID,omitempty"`
	NodeSelectors          []LabelSelector `json:"nodeSelectors,omitempty"`
	Password               string          `json:"password,omitempty"`
	PasswordSecret         SecretReference `json:"passwordSecret,omitempty"`
	BFDProfile             string          `json:"bfdProfile,omitempty"`
	EnableGracefulRestart  bool            `json:"enableGracefulRestart,omitempty"`
	EBGPMultiHop           bool            `json:"ebgpMultiHop,omitempty"`
	VRFName                string          `json:"vrf,omitempty"`
	DisableMP              bool            `json:"disableMP,omitempty"`
	DualStackAddressFamily bool            `json:"dualStackAddressFamily,omitempty"`
}

// BGPPeerV1beta1 is the deprecated metallb.io/v1beta1 BGPPeer. Convert it
// with ConvertToV1beta2 before validation.
type BGPPeerV1beta1 struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`
	Spec       BGPPeerV1beta1Spec `json:"spec,omitempty"`
	Status     struct{}           `json:"status,omitempty"`
}

// BGPPeerV1beta1Spec is the v1beta1 session configuration.
type BGPPeerV1beta1Spec struct {
	MyASN         uint32         `json:"myASN"`
	ASN           uint32         `json:"peerASN"`
	Address       string         `json:"peerAddress"`
	SrcAddress    string         `json:"sourceAddress,omitempty"`
	Port          uint32         `json:"peerPort,omitempty"`
	HoldTime      Duration       `json:"holdTime,omitempty"`
	KeepaliveTime Duration       `json:"keepaliveTime,omitempty"`
	RouterID      string         `json:"routerID,omitempty"`
	NodeSelectors []NodeSelector `json:"nodeSelectors,omitempty"`
	Password      string         `json:"password,omitempty"`
	BFDProfile    string         `json:"bfdProfile,omitempty"`
	EBGPMultiHop  bool           `json:"ebgpMultiHop,omitempty"`
}

// NodeSelector is v1beta1's own node selector type.
type NodeSelector struct {
	MatchLabels      map[string]string `json:"matchLabels,omitempty"`
	MatchExpressions []MatchExpression `json:"matchExpressions,omitempty"`
}

// MatchExpression is one v1beta1 node selector requirement.
type MatchExpression struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// ConvertToV1beta2 converts a v1beta1 peer to the hub version as MetalLB's
// conversion does, field by field. Two differences, both deliberate:
// v1beta1 cannot tell an unset holdTime/keepaliveTime from 0, and MetalLB
// converts an unset one to an explicit 0 (which disables keepalives); here a
// zero duration converts to unset so the default applies. A peerPort of 0
// (unset in v1beta1) converts to unset, i.e. 179.
func (p *BGPPeerV1beta1) ConvertToV1beta2() *BGPPeer {
	out := &BGPPeer{
		TypeMeta:   TypeMeta{APIVersion: MetalLBV1beta2, Kind: "BGPPeer"},
		ObjectMeta: p.ObjectMeta,
	}
	s := p.Spec
	out.Spec = BGPPeerSpec{
		MyASN:        s.MyASN,
		ASN:          s.ASN,
		Address:      s.Address,
		SrcAddress:   s.SrcAddress,
		RouterID:     s.RouterID,
		Password:     s.Password,
		BFDProfile:   s.BFDProfile,
		EBGPMultiHop: s.EBGPMultiHop,
	}
	if s.Port != 0 {
		port := s.Port
		out.Spec.Port = &port
	}
	if s.HoldTime.Duration != 0 {
		d := s.HoldTime
		out.Spec.HoldTime = &d
	}
	if s.KeepaliveTime.Duration != 0 {
		d := s.KeepaliveTime
		out.Spec.KeepaliveTime = &d
	}
	for _, ns := range s.NodeSelectors {
		sel := LabelSelector{MatchLabels: maps.Clone(ns.MatchLabels)}
		for _, e := range ns.MatchExpressions {
			sel.MatchExpressions = append(sel.MatchExpressions, LabelSelectorRequirement{
				Key: e.Key, Operator: e.Operator, Values: append([]string(nil), e.Values...),
			})
		}
		out.Spec.NodeSelectors = append(out.Spec.NodeSelectors, sel)
	}
	return out
}
