package driver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyChangedError is returned when a router presents a host key other
// than the one pinned in the known_hosts file.
type HostKeyChangedError struct {
	Host        string // the name the key is pinned under
	File        string // the known_hosts file
	Line        int    // the line holding the pinned key
	Fingerprint string // SHA256 fingerprint of the key the router presented
}

func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("host key of %s changed (now %s): %s line %d pins another key; if the router was re-created on purpose, delete line %d of %s and connect again",
		e.Host, e.Fingerprint, e.File, e.Line, e.Line, e.File)
}

// knownHostsMu serialises trust-on-first-use writes within this process.
var knownHostsMu sync.Mutex

// tofuCallback returns a host key callback that accepts keys pinned in file,
// pins the key of a host seen for the first time, and rejects a changed key
// with a *HostKeyChangedError. alias, when set, is the name hosts are pinned
// under instead of the dialed address.
func tofuCallback(file, alias string) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		name := hostname
		if alias != "" {
			name = alias
		}
		if _, _, err := net.SplitHostPort(name); err != nil {
			name = net.JoinHostPort(hostPattern(name), "22")
		}
		knownHostsMu.Lock()
		defer knownHostsMu.Unlock()
		if _, err := os.Stat(file); err == nil {
			cb, err := knownhosts.New(file)
			if err != nil {
				return fmt.Errorf("known_hosts %s: %w (fix or delete the file)", file, err)
			}
			err = cb(name, fakeAddr{}, key)
			if err == nil {
				return nil
			}
			var ke *knownhosts.KeyError
			if !errors.As(err, &ke) {
				return fmt.Errorf("known_hosts %s: %w", file, err)
			}
			if len(ke.Want) > 0 {
				w := ke.Want[0]
				return &HostKeyChangedError{Host: knownhosts.Normalize(name), File: w.Filename, Line: w.Line, Fingerprint: ssh.FingerprintSHA256(key)}
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("known_hosts %s: %w", file, err)
		}
		// first contact: pin the key
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return fmt.Errorf("known_hosts: %w", err)
		}
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("known_hosts: %w", err)
		}
		defer f.Close()
		line := knownhosts.Line([]string{hostPattern(name)}, key)
		if _, err := f.WriteString(line + "\n"); err != nil {
			return fmt.Errorf("known_hosts %s: %w", file, err)
		}
		return nil
	}
}

// hostPattern turns the name into the host field of a known_hosts line.
func hostPattern(name string) string {
	return strings.ReplaceAll(name, " ", "_")
}

// fakeAddr stands in for the remote address: pinning is by name only, so a
// router reached through its console socket and over TCP shares one entry
// when both use the same alias.
type fakeAddr struct{}

func (fakeAddr) Network() string { return "tcp" }
func (fakeAddr) String() string  { return "0.0.0.0:0" }
