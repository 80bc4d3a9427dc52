package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/onp-lab/onp/internal/nsx"
)

// Client talks to a lab's supervisor.
type Client struct{ dir string }

// NewClient returns a client for the supervisor of the lab directory dir.
func NewClient(dir string) *Client { return &Client{dir: dir} }

// ErrNotRunning means no supervisor answers in the lab directory.
var ErrNotRunning = errors.New("the lab's supervisor is not running")

func (c *Client) call(ctx context.Context, req request) ([]State, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", filepath.Join(c.dir, SocketFile))
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNotRunning, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if err := json.NewEncoder(conn).Encode(&req); err != nil {
		return nil, err
	}
	var resp response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return resp.States, nil
}

// Ping reports whether the supervisor answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: "ping"})
	return err
}

// Start starts (or replaces) a process.
func (c *Client) Start(ctx context.Context, spec Spec) (State, error) {
	st, err := c.call(ctx, request{Op: "start", Spec: &spec})
	if err != nil {
		return State{}, err
	}
	return st[0], nil
}

// Stop stops a process and keeps it stopped; timeout 0 uses the spec's.
func (c *Client) Stop(ctx context.Context, name string, timeout time.Duration) error {
	_, err := c.call(ctx, request{Op: "stop", Name: name, Timeout: timeout})
	return err
}

// Signal sends a signal to a process; the restart policy still applies, so
// Signal(SIGKILL) simulates a crash.
func (c *Client) Signal(ctx context.Context, name string, sig syscall.Signal) error {
	_, err := c.call(ctx, request{Op: "signal", Name: name, Signal: int(sig)})
	return err
}

// List returns the state of every process.
func (c *Client) List(ctx context.Context) ([]State, error) {
	return c.call(ctx, request{Op: "list"})
}

// Shutdown stops every process and the supervisor.
func (c *Client) Shutdown(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: "shutdown"})
	return err
}

// SavedStates reads the state file the supervisor keeps, for when it is not
// running.
func SavedStates(dir string) ([]State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, err
	}
	var st []State
	return st, json.Unmarshal(b, &st)
}

// Launch starts a supervisor process (argv, e.g. onp __supervise --dir DIR)
// detached from the caller, inside the namespace nsPath, and waits until it
// answers. It returns the supervisor's pid.
func Launch(ctx context.Context, dir, nsPath string, argv []string) (int, error) {
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return 0, err
	}
	logPath := filepath.Join(dir, "logs", "supervisor.log")
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer lf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := nsx.Start(nsPath, cmd); err != nil {
		return 0, fmt.Errorf("start supervisor: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := NewClient(dir)
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := c.Ping(pctx)
		cancel()
		if err == nil {
			return pid, nil
		}
		select {
		case werr := <-exited:
			b, _ := os.ReadFile(logPath)
			return 0, fmt.Errorf("supervisor exited at start (%v): %s", werr, lastLines(string(b), 5))
		case <-ctx.Done():
			syscall.Kill(pid, syscall.SIGKILL)
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			return 0, fmt.Errorf("supervisor (pid %d) did not answer within 10s; see %s", pid, logPath)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ReadPid returns the pid in the supervisor's pid file, or 0.
func ReadPid(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, PidFile))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
