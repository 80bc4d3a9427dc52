package vyos

import (
	"slices"
	"strings"
	"testing"
)

func TestSSHServiceOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dialect Dialect
		cmds    []string
		want    []string
		noPw    bool
	}{
		{"not configured", V13, nil, nil, false},
		{"defaults", V13, []string{"set service ssh"}, []string{":22"}, false},
		{"port and addresses", V13, []string{
			"set service ssh port 2222",
			"set service ssh listen-address 192.168.126.3",
			"set service ssh listen-address 2001:db8::3",
		}, []string{"192.168.126.3:2222", "[2001:db8::3]:2222"}, false},
		{"1.4 ports, keys only", V14, []string{
			"set service ssh port 22",
			"set service ssh port 2200",
			"set service ssh disable-password-authentication",
		}, []string{":22", ":2200"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCommands(tc.dialect, strings.Join(tc.cmds, "\n"))
			if err != nil {
				t.Fatal(err)
			}
			got := SSHServiceOf(c)
			if got.Enabled != (tc.want != nil) || got.NoPasswords != tc.noPw || !slices.Equal(got.Addrs(), tc.want) {
				t.Fatalf("got %+v (addresses %v), want %v", got, got.Addrs(), tc.want)
			}
		})
	}
}
