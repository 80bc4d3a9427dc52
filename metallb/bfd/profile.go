package bfd

import (
	"errors"
	"fmt"
	"time"
)

// Profile holds the parameters of MetalLB's BFDProfile. Zero values mean
// "not set" and take FRR's defaults (WithDefaults).
type Profile struct {
	// Name is the BFDProfile's name; informational.
	Name string
	// ReceiveInterval is the minimum interval at which this system can
	// receive control packets (Required Min RX). Default 300 ms.
	ReceiveInterval time.Duration
	// TransmitInterval is the desired interval between control packets
	// (Desired Min TX). Default 300 ms.
	TransmitInterval time.Duration
	// DetectMultiplier: the peer declares the session down after this many
	// missed packets. Default 3.
	DetectMultiplier uint8
	// EchoInterval is advertised as Required Min Echo RX. Default 50 ms.
	EchoInterval time.Duration
	// EchoMode asks for the echo function. This implementation does not
	// send echo packets (see the package documentation); the flag is kept
	// so that the profile round-trips and is reported.
	EchoMode bool
	// PassiveMode: send nothing until the peer has sent a packet.
	PassiveMode bool
	// MinimumTTL is the lowest accepted TTL on multihop sessions. Default
	// 254. Single-hop sessions always require 255 (RFC 5881).
	MinimumTTL uint8
}

// Defaults of FRR's bfdd, which MetalLB's FRR mode inherits.
const (
	DefaultReceiveInterval  = 300 * time.Millisecond
	DefaultTransmitInterval = 300 * time.Millisecond
	DefaultDetectMultiplier = 3
	DefaultEchoInterval     = 50 * time.Millisecond
	DefaultMinimumTTL       = 254

	// SlowTxInterval is the transmit interval used while a session is not
	// Up (RFC 5880 §6.8.3: at least one second).
	SlowTxInterval = time.Second
)

// WithDefaults returns p with every unset field set to its default.
func (p Profile) WithDefaults() Profile {
	if p.ReceiveInterval == 0 {
		p.ReceiveInterval = DefaultReceiveInterval
	}
	if p.TransmitInterval == 0 {
		p.TransmitInterval = DefaultTransmitInterval
	}
	if p.DetectMultiplier == 0 {
		p.DetectMultiplier = DefaultDetectMultiplier
	}
	if p.EchoInterval == 0 {
		p.EchoInterval = DefaultEchoInterval
	}
	if p.MinimumTTL == 0 {
		p.MinimumTTL = DefaultMinimumTTL
	}
	return p
}

// Validate checks the ranges MetalLB's CRD enforces: intervals 10–60000 ms
// in whole milliseconds, detect multiplier 2–255, minimum TTL 1–254. Unset
// (zero) fields are valid. All problems are reported together.
func (p Profile) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"receiveInterval", p.ReceiveInterval},
		{"transmitInterval", p.TransmitInterval},
		{"echoInterval", p.EchoInterval},
	} {
		if f.v == 0 {
			continue
		}
		if f.v < 10*time.Millisecond || f.v > 60*time.Second || f.v%time.Millisecond != 0 {
			errs = append(errs, fmt.Errorf("bfd profile %q: %s %v is out of range: use whole milliseconds from 10 to 60000", p.Name, f.name, f.v))
		}
	}
	if p.DetectMultiplier == 1 {
		errs = append(errs, fmt.Errorf("bfd profile %q: detectMultiplier 1 is out of range: use 2 to 255", p.Name))
	}
	if p.MinimumTTL == 255 {
		errs = append(errs, fmt.Errorf("bfd profile %q: minimumTtl 255 is out of range: use 1 to 254", p.Name))
	}
	return errors.Join(errs...)
}

func usec(d time.Duration) uint32 {
	us := d.Microseconds()
	if us < 0 {
		return 0
	}
	if us > 0xffffffff {
		return 0xffffffff
	}
	return uint32(us)
}

func fromUsec(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }
