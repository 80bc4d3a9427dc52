package frr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// VtyshError is returned when vtysh exits non-zero: a command was rejected
// or no daemon could be reached.
type VtyshError struct {
	Dir      string   // the instance's runtime directory
	Commands []string // the -c arguments
	Output   string   // what vtysh printed (stdout and stderr)
	Err      error    // the exec error (exit status)
}

func (e *VtyshError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		out = "no output"
	}
	cmds := e.Commands
	if len(cmds) > 4 {
		cmds = append(append([]string(nil), cmds[:4]...), fmt.Sprintf("... (%d commands)", len(e.Commands)))
	}
	return fmt.Sprintf("frr: vtysh --vty_socket %s -c %q: %v: %s", e.Dir, strings.Join(cmds, "; "), e.Err, out)
}

func (e *VtyshError) Unwrap() error { return e.Err }

// Vtysh runs vtysh against this instance with one -c argument per command
// and returns its standard output. vtysh keeps its node between commands
// ("configure terminal", "router bgp 1", ...) and stops at the first
// command that fails; a failure is a *VtyshError carrying vtysh's text.
func (in *Instance) Vtysh(ctx context.Context, cmds ...string) (string, error) {
	args := in.VtyshArgs()
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	cmd := exec.CommandContext(ctx, in.opts.Vtysh, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "VTYSH_PAGER=cat", "HOME=/"}
	err := cmd.Run()
	if err != nil {
		return stdout.String(), &VtyshError{
			Dir:      in.opts.Dir,
			Commands: cmds,
			Output:   strings.TrimSpace(stdout.String() + "\n" + filterNoise(stderr.String())),
			Err:      err,
		}
	}
	return stdout.String(), nil
}

// VtyshArgs are the vtysh options that reach this instance: its sockets,
// and its directory as vtysh's configuration directory, so that vtysh reads
// the instance's (empty) vtysh.conf and a "write memory" writes into the
// instance's directory instead of /etc/frr.
func (in *Instance) VtyshArgs() []string {
	return VtyshArgs(in.opts.Dir)
}

// VtyshArgs are the vtysh options for the instance whose runtime directory
// is dir.
func VtyshArgs(dir string) []string {
	return []string{"--vty_socket", dir, "--config_dir", dir}
}

// filterNoise drops vtysh's harmless complaint about a missing vtysh.conf.
func filterNoise(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "Can't open configuration file") || strings.TrimSpace(l) == "" {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// RunningConfig returns `show running-config` without vtysh's
// "Building configuration..." header.
func (in *Instance) RunningConfig(ctx context.Context) (string, error) {
	out, err := in.Vtysh(ctx, "show running-config")
	if err != nil {
		return "", err
	}
	return stripHeader(out), nil
}

func stripHeader(s string) string {
	lines := strings.Split(s, "\n")
	i := 0
	for i < len(lines) {
		l := strings.TrimSpace(lines[i])
		if l == "" || l == "Building configuration..." || l == "Current configuration:" {
			i++
			continue
		}
		break
	}
	return strings.Join(lines[i:], "\n")
}

// ShowJSON runs one show command ending in "json" and decodes its output
// into v.
func (in *Instance) ShowJSON(ctx context.Context, command string, v any) error {
	out, err := in.Vtysh(ctx, command)
	if err != nil {
		return err
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return fmt.Errorf("frr: %q returned no output", command)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("frr: decode output of %q: %w", command, err)
	}
	return nil
}

// IsVtyshError reports whether err came from vtysh rejecting a command.
func IsVtyshError(err error) bool {
	var ve *VtyshError
	return errors.As(err, &ve)
}
