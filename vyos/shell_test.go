package vyos

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

type step13 struct {
	in     string
	out    string // exact output, unless contains is set
	has    []string
	prompt string // checked when set
}

func runSteps(t *testing.T, sh *Shell, steps []step13) {
	t.Helper()
	ctx := context.Background()
	for i, s := range steps {
		out, _ := sh.Exec(ctx, s.in)
		if s.has == nil && out != s.out {
			t.Errorf("step %d %q:\n got %q\nwant %q", i, s.in, out, s.out)
		}
		for _, h := range s.has {
			if !strings.Contains(out, h) {
				t.Errorf("step %d %q: output lacks %q:\n%s", i, s.in, h, out)
			}
		}
		if s.prompt != "" && sh.Prompt() != s.prompt {
			t.Errorf("step %d %q: prompt %q, want %q", i, s.in, sh.Prompt(), s.prompt)
		}
	}
}

func TestShell13(t *testing.T) {
	tr := newTestRouter(t, V13, nil)
	sh := tr.NewShell("vyos")
	runSteps(t, sh, []step13{
		{in: "show version", has: []string{"Version:          VyOS 1.3.", "Release train:    equuleus"}},
		{in: "sh ver", has: []string{"VyOS 1.3."}},
		{in: "show configuration", out: ""},
		{in: "bogus", out: "\n  Invalid command: [bogus]\n\n"},
		{in: "show bogus", out: "\n  Invalid command: show [bogus]\n\n"},
		{in: "set terminal length 0", out: ""},
		{in: "set terminal width 512", out: ""},
		{in: "configure", out: "", prompt: "[edit]\nvyos@vyos# "},
		{in: "set protocols bgp 64512 neighbor 192.0.2.1 remote-as foo",
			out: "\n  Invalid AS number\n\n  Value validation failed\n  Set failed\n\n"},
		{in: "set protocols bgp 64512 neighbor 192.0.2.1 bogus",
			out: "\n  Configuration path: protocols bgp 64512 neighbor 192.0.2.1 [bogus] is not valid\n  Set failed\n\n"},
		{in: "set foo bar", out: "\n  Configuration path: [foo] is not valid\n  Set failed\n\n"},
		{in: "set protocols bgp 64512 neighbor 192.0.2.1 remote-as", out: "\n  Configuration path: [protocols bgp 64512 neighbor 192.0.2.1 remote-as] requires a value\n  Set failed\n\n"},
		{in: "compare", out: "No changes between working and active configurations.\n"},
		{in: "commit", out: "No configuration changes to commit\n"},
		{in: "set protocols bgp 64512 neighbor 192.0.2.1 password secret", out: ""},
		{in: "commit", out: "[ protocols bgp 64512 neighbor 192.0.2.1 ]\n  must set remote-as or peer-group with remote-as defined\n\n[[protocols bgp 64512]] failed\nCommit failed\n"},
		{in: "exit", out: "Cannot exit: configuration modified.\nUse 'exit discard' to discard the changes and exit.\n"},
		{in: "edit protocols bgp 64512", out: "", prompt: "[edit protocols bgp 64512]\nvyos@vyos# "},
		{in: "set neighbor 192.0.2.1 remote-as 65001", out: ""},
		{in: "show neighbor 192.0.2.1", out: "+password secret\n+remote-as 65001\n"},
		{in: "up", out: "", prompt: "[edit protocols]\nvyos@vyos# "},
		{in: "top", out: "", prompt: "[edit]\nvyos@vyos# "},
		{in: "top", out: "Already at the top level\n"},
		{in: "set protocols bgp 64513 parameters router-id 192.0.2.9",
			out: "\n  Cannot set node \"64513\": number of values exceeds limit(1 allowed)\n  Set failed\n\n"},
		{in: "set service ssh", out: ""},
		{in: "set service ssh", out: "\n  Configuration path: [service ssh] already exists\n\n"},
		{in: "compare", out: "[edit]\n+protocols {\n+    bgp 64512 {\n+        neighbor 192.0.2.1 {\n+            password secret\n+            remote-as 65001\n+        }\n+    }\n+}\n+service {\n+    ssh {\n+    }\n+}\n"},
		{in: "commit", out: ""},
		{in: "show protocols", out: " bgp 64512 {\n     neighbor 192.0.2.1 {\n         password secret\n         remote-as 65001\n     }\n }\n"},
		{in: "set protocols bgp 64512 neighbor 192.0.2.1 remote-as 65002", out: ""},
		{in: "set protocols bgp 64512 neighbor 192.0.2.1 description 'a b'", out: ""},
		{in: "show protocols bgp 64512 neighbor 192.0.2.1", out: "+description \"a b\"\n password secret\n>remote-as 65002\n"},
		{in: "compare", out: "[edit protocols bgp 64512 neighbor 192.0.2.1]\n+description \"a b\"\n>remote-as 65002\n"},
		{in: "discard", out: "  Changes have been discarded\n"},
		{in: "delete protocols bgp 64512 neighbor 192.0.2.99", out: "\n  Nothing to delete (the specified node does not exist)\n\n"},
		{in: "delete protocols bgp 64512 neighbor 192.0.2.1 bogus", out: "\n  Configuration path: protocols bgp 64512 neighbor 192.0.2.1 [bogus] is not valid\n  Delete failed\n\n"},
		{in: "show interfaces", out: "Configuration under specified path is empty\n"},
		{in: "run show configuration commands", out: "set protocols bgp 64512 neighbor 192.0.2.1 password 'secret'\nset protocols bgp 64512 neighbor 192.0.2.1 remote-as '65001'\nset service ssh\n"},
		{in: "run show configuration", has: []string{"password ****************", "remote-as 65001"}},
		{in: "run show ip bgp summary", has: []string{"local AS number 64512", "192.0.2.1"}},
		{in: "run show bgp summary", has: []string{"192.0.2.1"}},
		{in: "run show ip bgp neighbors 192.0.2.1", has: []string{"BGP neighbor is 192.0.2.1, remote AS 65001"}},
		{in: "run show bfd peers", has: []string{"BFD Peers:"}},
		{in: "run show interfaces", has: []string{"Codes: S - State, L - Link, u - Up, D - Down, A - Admin Down", "lo               127.0.0.1/8"}},
		{in: "run ping 127.0.0.1 count 1", has: []string{"1 packets transmitted, 1 received"}},
		{in: "run", out: "\n  Incomplete command: run\n\n"},
		{in: "exit", out: "Warning: configuration changes have not been saved.\nexit\n", prompt: "vyos@vyos:~$ "},
		{in: "configure", out: ""},
		{in: "set system host-name r1", out: ""},
		{in: "exit discard", out: "exit\n", prompt: "vyos@vyos:~$ "},
	})
	if _, exit := sh.Exec(context.Background(), "exit"); !exit {
		t.Error("exit in operational mode should end the session")
	}
}

func TestShell14(t *testing.T) {
	tr := newTestRouter(t, V14, nil)
	sh := tr.NewShell("vyos")
	runSteps(t, sh, []step13{
		{in: "show version", has: []string{"Version:          VyOS 1.4.", "sagitta"}},
		{in: "configure", out: ""},
		{in: "set protocols bgp 64512 neighbor 192.0.2.1 remote-as 64512",
			out: "\n  Configuration path: protocols bgp [64512] is not valid\n  Set failed\n\n"},
		{in: "set protocols bgp neighbor 192.0.2.1 remote-as 64512", out: ""},
		{in: "commit", out: "[ protocols bgp ]\nBGP system-as number must be defined!\n\n[[protocols bgp]] failed\nCommit failed\n"},
		{in: "set protocols bgp system-as 64512", out: ""},
		{in: "commit", out: "[ protocols bgp ]\n\nWARNING: BGP neighbor \"192.0.2.1\" requires address-family!\n\n"},
		{in: "set protocols bgp neighbor 192.0.2.1 ebgp-multihop 2", out: ""},
		{in: "set protocols bgp neighbor 192.0.2.1 ttl-security hops 2", out: ""},
		{in: "commit", has: []string{"You can not set both ebgp-multihop and ttl-security hops\n\n[[protocols bgp]] failed\nCommit failed"}},
		{in: "delete protocols bgp neighbor 192.0.2.1 ttl-security", out: ""},
		{in: "set protocols bgp neighbor 192.0.2.1 peer-group NOPE", out: ""},
		{in: "commit", has: []string{`Specified peer-group "NOPE" for neighbor "neighbor" does not exist!`}},
		{in: "delete protocols bgp neighbor 192.0.2.1 peer-group", out: ""},
		{in: "set protocols bgp neighbor 192.0.2.1 bfd profile NOPE", out: ""},
		{in: "commit", has: []string{`BFD profile "NOPE" does not exist!`}},
		{in: "set protocols bfd profile NOPE", out: ""},
		{in: "set protocols bgp neighbor 192.0.2.1 address-family ipv4-unicast", out: ""},
		{in: "set protocols static route 203.0.113.0/24 blackhole", out: ""},
		{in: "commit", out: ""},
		{in: "run show ip route static", has: []string{"S>* 203.0.113.0/24", "blackhole"}},
		{in: "save", out: ""},
		{in: "exit", out: "exit\n"},
	})
	if !hasLine(tr.running(t), "neighbor 192.0.2.1 bfd profile NOPE") {
		t.Error("bfd profile not in FRR")
	}
}

// TestShellSessions checks that a session without changes follows another
// session's commit.
func TestShellSessions(t *testing.T) {
	tr := newTestRouter(t, V14, nil)
	a, b := tr.NewShell("vyos"), tr.NewShell("vyos")
	mustExec(t, a, "configure")
	mustExec(t, b, "configure", "set system host-name r9", "commit")
	out, _ := a.Exec(context.Background(), "show system")
	if out != " host-name r9\n" {
		t.Errorf("session a does not see b's commit: %q", out)
	}
	if a.Prompt() != "[edit]\nvyos@r9# " {
		t.Errorf("prompt %q", a.Prompt())
	}
}

func TestRunScript(t *testing.T) {
	tr := newTestRouter(t, V13, nil)
	ctx := context.Background()
	script := `#!/bin/vbash
source /opt/vyatta/etc/functions/script-template
configure
set protocols bgp 64512 parameters router-id 192.0.2.3
set protocols bgp 64512 neighbor 192.0.2.2 remote-as 64512
commit
save
exit
run show configuration commands
echo done
`
	var out, errb bytes.Buffer
	if rc := tr.NewShell("vyos").RunScript(ctx, script, &out, &errb); rc != 0 {
		t.Fatalf("rc %d\nstdout:\n%s\nstderr:\n%s", rc, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "Saving configuration to '/config/config.boot'...\nDone\n") ||
		!strings.Contains(out.String(), "set protocols bgp 64512 neighbor 192.0.2.2 remote-as '64512'") ||
		!strings.HasSuffix(out.String(), "done\n") {
		t.Errorf("stdout:\n%s", out.String())
	}
	if !hasLine(tr.running(t), "neighbor 192.0.2.2 remote-as 64512") {
		t.Error("script did not configure FRR")
	}

	// A bad line: error on stderr, the script goes on, the commit still
	// happens, and the status is the last command's.
	out.Reset()
	errb.Reset()
	bad := "configure\nset protocols bgp 64512 neighbor 192.0.2.2 bogus 1\nset protocols bgp 64512 neighbor 192.0.2.2 description x\ncommit\nexit\n"
	if rc := tr.NewShell("vyos").RunScript(ctx, bad, &out, &errb); rc != 0 {
		t.Errorf("rc %d, want 0 (status of the last command)", rc)
	}
	if !strings.Contains(errb.String(), "[bogus] is not valid") || !strings.Contains(errb.String(), "Set failed") {
		t.Errorf("stderr: %q", errb.String())
	}

	// set -e stops at the first failure; a failed commit sets the status.
	out.Reset()
	errb.Reset()
	failing := "set -e\nconfigure\nset protocols bgp 64512 neighbor 192.0.2.7 password x\ncommit\necho not reached\n"
	rc := tr.NewShell("vyos").RunScript(ctx, failing, &out, &errb)
	if rc != 1 || !strings.Contains(out.String(), "Commit failed") || strings.Contains(out.String(), "not reached") {
		t.Errorf("rc %d stdout %q", rc, out.String())
	}
	if rc := tr.NewShell("vyos").RunScript(ctx, "exit 3\n", &out, &errb); rc != 3 {
		t.Errorf("exit 3: rc %d", rc)
	}
}

func TestComplete(t *testing.T) {
	tr := newTestRouter(t, V14, nil)
	sh := tr.NewShell("vyos")
	if got := sh.Complete("sh"); len(got) != 1 || got[0] != "show" {
		t.Errorf("op completion of sh: %v", got)
	}
	if got := sh.Complete("show ip "); !contains(got, "bgp") || !contains(got, "route") {
		t.Errorf("show ip: %v", got)
	}
	mustExec(t, sh, "configure")
	if got := sh.Complete("set protocols b"); strings.Join(got, ",") != "bfd,bgp" {
		t.Errorf("set protocols b: %v", got)
	}
	if got := sh.Complete("set protocols bgp neighbor 192.0.2.1 t"); strings.Join(got, ",") != "timers,ttl-security" {
		t.Errorf("neighbor t: %v", got)
	}
	help := sh.Help("set protocols bgp neighbor 192.0.2.1 remote-as ")
	found := false
	for _, h := range help {
		if h.Word == "<u32:1-4294967294>" {
			found = true
		}
	}
	if !found {
		t.Errorf("remote-as help: %v", help)
	}
}

func TestPipes(t *testing.T) {
	out, err := pipe("a 1\nb 2\nc password s3\n", []string{"match", "^[ab] "})
	if err != nil || out != "a 1\nb 2\n" {
		t.Errorf("match: %q %v", out, err)
	}
	out, _ = pipe("a\nb\n", []string{"no-more", "|", "count"})
	if out != "2\n" {
		t.Errorf("count: %q", out)
	}
	out, _ = pipe("    password s3cret\n", []string{"strip-private"})
	if out != "    password xxxxxx\n" {
		t.Errorf("strip-private: %q", out)
	}
	if _, err := pipe("x", []string{"bogus"}); err == nil {
		t.Error("unknown filter accepted")
	}
}
