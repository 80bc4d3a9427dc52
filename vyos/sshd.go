package vyos

import (
	"net"
	"strconv"
)

// SSHServiceOf reads "service ssh" from a configuration (the OnCommit
// hook's argument, say).
func SSHServiceOf(c *Config) SSHService { return sshOf(c) }

// Addrs are the TCP addresses (host:port) VyOS's sshd listens on: every
// listen address (all of them when none is set) on every port.
func (s SSHService) Addrs() []string {
	if !s.Enabled {
		return nil
	}
	hosts := s.ListenAddresses
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	var out []string
	for _, p := range s.Ports {
		for _, h := range hosts {
			out = append(out, net.JoinHostPort(h, strconv.Itoa(p)))
		}
	}
	return out
}
