// Package supervisor runs a lab's long-running processes: it starts each one
// in its node's network namespace with a pid file and a log file in the lab
// directory, restarts it by policy, and stops it by pid. One supervisor
// process runs per lab; onp commands talk to it over a unix socket in the
// lab directory.
package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/nsx"
)

// Files in the lab directory.
const (
	SocketFile = "supervisor.sock"
	PidFile    = "supervisor.pid"
	StateFile  = "services.json"
)

// Restart policies.
const (
	Always    = "always"
	OnFailure = "on-failure"
	Never     = "never"
)

// Spec describes a supervised process.
type Spec struct {
	// Name is unique in the lab, e.g. "vyos/router".
	Name string `json:"name"`
	// Netns is the network namespace path to start it in ("" = the
	// supervisor's own).
	Netns string   `json:"netns,omitempty"`
	Argv  []string `json:"argv"`
	Env   []string `json:"env,omitempty"`
	Dir   string   `json:"dir,omitempty"`
	// Restart is Always (default), OnFailure or Never.
	Restart     string        `json:"restart,omitempty"`
	StopTimeout time.Duration `json:"stopTimeout,omitempty"`
}

// State is what the supervisor knows about a process.
type State struct {
	Spec
	Pid      int       `json:"pid"`
	Running  bool      `json:"running"`
	Restarts int       `json:"restarts"`
	Since    time.Time `json:"since"`
	LastExit string    `json:"lastExit,omitempty"`
	Stopped  bool      `json:"stopped,omitempty"`
	Log      string    `json:"log"`
}

// LogPath is where a service's output goes.
func LogPath(dir, name string) string {
	return filepath.Join(dir, "logs", strings.ReplaceAll(name, "/", "-")+".log")
}

// PidPath is where a service's pid is written while it runs.
func PidPath(dir, name string) string {
	return filepath.Join(dir, "run", strings.ReplaceAll(name, "/", "-")+".pid")
}

type request struct {
	Op      string        `json:"op"` // start, stop, signal, list, shutdown, ping
	Spec    *Spec         `json:"spec,omitempty"`
	Name    string        `json:"name,omitempty"`
	Signal  int           `json:"signal,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

type response struct {
	Error  string  `json:"error,omitempty"`
	States []State `json:"states,omitempty"`
}

type service struct {
	mu      sync.Mutex
	st      State
	cmd     *exec.Cmd
	stop    chan struct{} // closed when a stop was requested
	done    chan struct{} // closed when the run loop has ended
	stopReq bool
}

// Server is a running supervisor.
type Server struct {
	dir  string
	log  *slog.Logger
	mu   sync.Mutex
	svcs map[string]*service
	quit chan struct{}
	once sync.Once
}

// Run runs a supervisor for the lab directory dir until ctx ends or a
// shutdown request arrives; on the way out it stops every process.
func Run(ctx context.Context, dir string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{dir: dir, log: logger, svcs: map[string]*service{}, quit: make(chan struct{})}
	for _, d := range []string{"logs", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	sock := filepath.Join(dir, SocketFile)
	os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sock, err)
	}
	defer ln.Close()
	if err := os.WriteFile(filepath.Join(dir, PidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-s.quit:
		}
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		go s.serve(c)
	}
	s.stopAll()
	os.Remove(filepath.Join(dir, PidFile))
	os.Remove(sock)
	return nil
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	var req request
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		return
	}
	var resp response
	err := s.handle(&req, &resp)
	if err != nil {
		resp.Error = err.Error()
	}
	json.NewEncoder(c).Encode(&resp)
	if req.Op == "shutdown" {
		s.once.Do(func() { close(s.quit) })
	}
}

func (s *Server) handle(req *request, resp *response) error {
	switch req.Op {
	case "ping":
		return nil
	case "start":
		if req.Spec == nil || req.Spec.Name == "" || len(req.Spec.Argv) == 0 {
			return errors.New("start needs a name and a command")
		}
		st, err := s.start(*req.Spec)
		if err != nil {
			return err
		}
		resp.States = []State{st}
		return nil
	case "stop":
		return s.stop(req.Name, req.Timeout)
	case "signal":
		s.mu.Lock()
		sv := s.svcs[req.Name]
		s.mu.Unlock()
		if sv == nil {
			return fmt.Errorf("no service %q", req.Name)
		}
		sv.mu.Lock()
		defer sv.mu.Unlock()
		if !sv.st.Running || sv.cmd == nil {
			return fmt.Errorf("service %q is not running", req.Name)
		}
		return sv.cmd.Process.Signal(syscall.Signal(req.Signal))
	case "list":
		resp.States = s.states()
		return nil
	case "shutdown":
		return nil
	}
	return fmt.Errorf("unknown request %q", req.Op)
}

func (s *Server) states() []State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]State, 0, len(s.svcs))
	for _, sv := range s.svcs {
		sv.mu.Lock()
		out = append(out, sv.st)
		sv.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// saveState writes services.json for `onp status` when no supervisor runs.
func (s *Server) saveState() {
	b, _ := json.MarshalIndent(s.states(), "", "  ")
	tmp := filepath.Join(s.dir, StateFile+".tmp")
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, filepath.Join(s.dir, StateFile))
	}
}

func (s *Server) start(spec Spec) (State, error) {
	if spec.Restart == "" {
		spec.Restart = Always
	}
	if spec.StopTimeout == 0 {
		spec.StopTimeout = 2 * time.Second
	}
	s.mu.Lock()
	old := s.svcs[spec.Name]
	s.mu.Unlock()
	if old != nil {
		s.stop(spec.Name, spec.StopTimeout)
	}
	sv := &service{st: State{Spec: spec, Log: LogPath(s.dir, spec.Name)}, stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.launch(sv); err != nil {
		return State{}, err
	}
	s.mu.Lock()
	s.svcs[spec.Name] = sv
	s.mu.Unlock()
	s.saveState()
	go s.loop(sv)
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.st, nil
}

// launch starts the process of sv once.
func (s *Server) launch(sv *service) error {
	spec := sv.st.Spec
	lf, err := os.OpenFile(sv.st.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintf(lf, "=== %s onp supervisor: starting %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(spec.Argv, " "))
	if err := nsx.Start(spec.Netns, cmd); err != nil {
		fmt.Fprintf(lf, "=== start failed: %v\n", err)
		return fmt.Errorf("start %s: %w", spec.Name, err)
	}
	os.WriteFile(PidPath(s.dir, spec.Name), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	sv.mu.Lock()
	sv.cmd = cmd
	sv.st.Pid = cmd.Process.Pid
	sv.st.Running = true
	sv.st.Since = time.Now().UTC()
	sv.mu.Unlock()
	s.log.Info("started", "service", spec.Name, "pid", cmd.Process.Pid)
	return nil
}

// loop waits for the process and restarts it by policy.
func (s *Server) loop(sv *service) {
	defer close(sv.done)
	backoff := 100 * time.Millisecond
	for {
		sv.mu.Lock()
		cmd := sv.cmd
		sv.mu.Unlock()
		err := cmd.Wait()
		ran := time.Since(sv.st.Since)
		exit := describeExit(err)
		sv.mu.Lock()
		sv.st.Running = false
		sv.st.LastExit = exit
		stopped := sv.stopReq
		policy := sv.st.Restart
		sv.mu.Unlock()
		os.Remove(PidPath(s.dir, sv.st.Name))
		s.log.Info("exited", "service", sv.st.Name, "pid", cmd.Process.Pid, "exit", exit)
		s.saveState()
		if stopped || policy == Never || (policy == OnFailure && err == nil) {
			return
		}
		if ran > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-sv.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
		for {
			if err := s.launch(sv); err == nil {
				break
			}
			select {
			case <-sv.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
		}
		sv.mu.Lock()
		sv.st.Restarts++
		sv.mu.Unlock()
		s.saveState()
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + unix.SignalName(ws.Signal())
		}
	}
	return err.Error()
}

// stop stops a service: SIGTERM to its process group, SIGKILL after timeout.
func (s *Server) stop(name string, timeout time.Duration) error {
	s.mu.Lock()
	sv := s.svcs[name]
	s.mu.Unlock()
	if sv == nil {
		return fmt.Errorf("no service %q", name)
	}
	if timeout <= 0 {
		timeout = sv.st.StopTimeout
	}
	sv.mu.Lock()
	if !sv.stopReq {
		sv.stopReq = true
		close(sv.stop)
	}
	sv.st.Stopped = true
	cmd, running := sv.cmd, sv.st.Running
	sv.mu.Unlock()
	if running && cmd != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-sv.done:
		case <-time.After(timeout):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-sv.done
		}
	}
	<-sv.done
	s.saveState()
	return nil
}

func (s *Server) stopAll() {
	s.mu.Lock()
	names := make([]string, 0, len(s.svcs))
	for n := range s.svcs {
		names = append(names, n)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func(n string) { defer wg.Done(); s.stop(n, 0) }(n)
	}
	wg.Wait()
}
