// Package lab builds, inspects and tears down labs. A Manager turns a
// topology into a running lab with a Provider (where nodes run) and Kinds
// (what runs inside them), journals every creation before it happens, and
// removes everything it finds by ownership tags on down.
package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/topology"
)

// Progress reports the phases of a long operation to the user.
type Progress interface {
	// Phase starts a phase; the returned function ends it with its result.
	Phase(msg string) func(err error)
}

type noProgress struct{}

func (noProgress) Phase(string) func(error) { return func(error) {} }

// Manager runs lab operations.
type Manager struct {
	Paths    Paths
	Provider Provider
	Kinds    map[string]Kind
	Logger   *slog.Logger
	Progress Progress
	// LockTimeout bounds how long a command waits for another one working
	// on the same lab.
	LockTimeout time.Duration
}

func (m *Manager) log() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

func (m *Manager) progress() Progress {
	if m.Progress == nil {
		return noProgress{}
	}
	return m.Progress
}

func (m *Manager) phase(msg string, fn func() error) error {
	end := m.progress().Phase(msg)
	err := fn()
	end(err)
	return err
}

func (m *Manager) lock(ctx context.Context, name string) (*Lock, error) {
	d := m.LockTimeout
	if d == 0 {
		d = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return AcquireLock(ctx, m.Paths, name)
}

// Meta describes a lab; it is stored as lab.json in the lab directory.
type Meta struct {
	Name     string    `json:"name"`
	Source   string    `json:"source"`
	Dir      string    `json:"dir"`
	Builtin  bool      `json:"builtin"`
	Provider string    `json:"provider"`
	Created  time.Time `json:"created"`
}

// UpOptions change how Up works.
type UpOptions struct {
	// Name overrides the topology's name.
	Name string
	// KeepOnFailure leaves what was created in place when a step fails.
	KeepOnFailure bool
}

// StepError says which step of building a lab failed.
type StepError struct {
	Step       string
	Err        error
	RolledBack bool
}

func (e *StepError) Error() string {
	s := e.Step + ": " + e.Err.Error()
	if e.RolledBack {
		s += "\neverything created so far was removed (use --keep-on-failure to keep it for debugging)"
	} else {
		s += "\nwhat was created so far is kept; remove it with onp down"
	}
	return s
}

func (e *StepError) Unwrap() error { return e.Err }

// Up builds a lab from a topology.
func (m *Manager) Up(ctx context.Context, top *topology.Topology, opt UpOptions) (*Lab, error) {
	name := top.Name
	if opt.Name != "" {
		name = opt.Name
	}
	if why := topology.ValidLabName(name); why != "" {
		return nil, fmt.Errorf("lab name %q %s", name, why)
	}
	lk, err := m.lock(ctx, name)
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	return m.create(ctx, name, top, opt)
}

func (m *Manager) create(ctx context.Context, name string, top *topology.Topology, opt UpOptions) (*Lab, error) {
	if exists, what := m.exists(ctx, name); exists {
		return nil, fmt.Errorf("lab %q already exists (%s); remove it with: onp down %s", name, what, name)
	}
	t := *top
	t.Name = name
	l := &Lab{Name: name, Dir: m.Paths.LabDir(name), Topology: &t, Logger: m.log().With("lab", name)}
	if err := m.phase("Checking the host", func() error { return m.preflight(ctx, l, t.Nodes) }); err != nil {
		return nil, err
	}
	j, err := OpenJournal(l.Dir)
	if err != nil {
		return nil, err
	}
	l.Journal = j
	defer j.Close()
	fail := func(step string, err error) (*Lab, error) {
		se := &StepError{Step: step, Err: err}
		if !opt.KeepOnFailure {
			m.phase("Removing what was created", func() error {
				_, derr := m.destroy(context.WithoutCancel(ctx), name)
				return derr
			})
			se.RolledBack = true
		}
		return nil, se
	}
	if err := j.Record(Entry{Kind: "lab", Name: name, Detail: top.Source}); err != nil {
		return fail("write journal", err)
	}
	if err := m.save(l); err != nil {
		return fail("save lab file", err)
	}
	if err := m.phase("Creating the lab fabric", func() error { return m.Provider.CreateFabric(ctx, l) }); err != nil {
		return fail("create fabric", err)
	}
	if step, err := m.build(ctx, l, t.Networks, t.Nodes); err != nil {
		return fail(step, err)
	}
	return l, nil
}

// build creates networks, then nodes, then deploys what runs in the nodes.
// It returns the failing step.
func (m *Manager) build(ctx context.Context, l *Lab, nets []topology.Network, nodes []topology.Node) (string, error) {
	if len(nets) > 0 {
		var step string
		err := m.phase(fmt.Sprintf("Creating networks (%s)", names(nets, func(n topology.Network) string { return n.Name })), func() error {
			for i := range nets {
				if err := m.Provider.CreateNetwork(ctx, l, &nets[i]); err != nil {
					step = "create network " + nets[i].Name
					return err
				}
			}
			return nil
		})
		if err != nil {
			return step, err
		}
	}
	if len(nodes) == 0 {
		return "", nil
	}
	handles := make([]Node, len(nodes))
	var step string
	err := m.phase(fmt.Sprintf("Creating nodes (%s)", names(nodes, func(n topology.Node) string { return n.Name })), func() error {
		return parallel(ctx, len(nodes), 8, func(i int) error {
			h, err := m.Provider.CreateNode(ctx, l, &nodes[i])
			if err != nil {
				return fmt.Errorf("create node %s: %w", nodes[i].Name, err)
			}
			handles[i] = h
			return nil
		}, &step)
	})
	if err != nil {
		return step, err
	}
	var deploy []int
	for i, n := range nodes {
		if n.Kind != "host" || (n.Host != nil && len(n.Host.Services) > 0) {
			deploy = append(deploy, i)
		}
	}
	if len(deploy) == 0 {
		return "", nil
	}
	err = m.phase(fmt.Sprintf("Starting %s", names(deploy, func(i int) string { return nodes[i].Name + " (" + nodes[i].Kind + ")" })), func() error {
		return parallel(ctx, len(deploy), 8, func(k int) error {
			i := deploy[k]
			if err := m.Kinds[nodes[i].Kind].Deploy(ctx, l, handles[i], &nodes[i]); err != nil {
				return fmt.Errorf("start %s node %s: %w", nodes[i].Kind, nodes[i].Name, err)
			}
			return nil
		}, &step)
	})
	return step, err
}

// parallel runs fn(0..n-1) with at most limit at once and returns the first
// error (by index); step receives that error's text prefix for reporting.
func parallel(ctx context.Context, n, limit int, fn func(i int) error, step *string) error {
	errs := make([]error, n)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			errs[i] = fn(i)
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			if s, _, ok := strings.Cut(err.Error(), ": "); ok {
				*step = s
			}
			return err
		}
	}
	return nil
}

func names[T any](xs []T, f func(T) string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	if len(out) > 6 {
		return fmt.Sprintf("%s, ... %d in all", strings.Join(out[:5], ", "), len(out))
	}
	return strings.Join(out, ", ")
}

// preflight checks the provider and every kind the nodes need.
func (m *Manager) preflight(ctx context.Context, l *Lab, nodes []topology.Node) error {
	var missing []string
	for _, n := range nodes {
		if _, ok := m.Kinds[n.Kind]; !ok {
			missing = append(missing, fmt.Sprintf("node %s needs kind %q", n.Name, n.Kind))
		}
	}
	if len(missing) > 0 {
		var avail []string
		for k := range m.Kinds {
			avail = append(avail, k)
		}
		sort.Strings(avail)
		return fmt.Errorf("this onp cannot run every node of lab %q: %s; kinds available: %s. Nothing was created",
			l.Name, strings.Join(missing, "; "), strings.Join(avail, ", "))
	}
	if err := m.Provider.Preflight(ctx, l); err != nil {
		return err
	}
	for i := range nodes {
		if k, ok := m.Kinds[nodes[i].Kind]; ok {
			if err := k.Preflight(ctx, l, &nodes[i]); err != nil {
				return fmt.Errorf("node %s (%s): %w", nodes[i].Name, nodes[i].Kind, err)
			}
		}
	}
	return nil
}

// exists reports whether anything of the lab exists, and what.
func (m *Manager) exists(ctx context.Context, name string) (bool, string) {
	if meta, err := m.ReadMeta(name); err == nil {
		return true, fmt.Sprintf("created %s from %s", meta.Created.Local().Format("2006-01-02 15:04:05"), meta.Source)
	}
	if _, err := os.Stat(m.Paths.LabDir(name)); err == nil {
		return true, "its directory " + m.Paths.LabDir(name) + " is left from an interrupted run"
	}
	labs, _ := m.Provider.Labs(ctx)
	if slices.Contains(labs, name) {
		return true, fmt.Sprintf("its namespaces exist but %s has no state for it: it was interrupted, or it belongs to another state directory (ONP_HOME); lab names are unique per machine", m.Paths.LabsDir())
	}
	return false, ""
}

// save writes the lab's topology and metadata into its directory.
func (m *Manager) save(l *Lab) error {
	y, err := yaml.Marshal(l.Topology)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(l.Dir, "lab.yaml"), y); err != nil {
		return err
	}
	meta := Meta{Name: l.Name, Source: l.Topology.Source, Dir: l.Topology.Dir, Builtin: l.Topology.Builtin, Provider: m.Provider.Name(), Created: time.Now().UTC()}
	if old, err := m.ReadMeta(l.Name); err == nil {
		meta.Created = old.Created
	}
	b, _ := json.MarshalIndent(meta, "", "  ")
	return writeFileAtomic(filepath.Join(l.Dir, "lab.json"), append(b, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadMeta reads a lab's lab.json.
func (m *Manager) ReadMeta(name string) (*Meta, error) {
	b, err := os.ReadFile(filepath.Join(m.Paths.LabDir(name), "lab.json"))
	if err != nil {
		return nil, err
	}
	var meta Meta
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, fmt.Errorf("lab %s: broken lab.json: %w", name, err)
	}
	return &meta, nil
}

// ErrNoLab is returned when a lab does not exist.
var ErrNoLab = errors.New("no such lab")

// Load returns a running lab.
func (m *Manager) Load(name string) (*Lab, error) {
	meta, err := m.ReadMeta(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			labs, _ := m.Labs(context.Background())
			hint := "start it with: onp up"
			if len(labs) > 0 {
				hint = "labs: " + strings.Join(labs, ", ")
			}
			return nil, fmt.Errorf("%w %q (%s)", ErrNoLab, name, hint)
		}
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(m.Paths.LabDir(name), "lab.yaml"))
	if err != nil {
		return nil, err
	}
	top, err := topology.Parse(filepath.Join(m.Paths.LabDir(name), "lab.yaml"), data)
	if err != nil {
		return nil, fmt.Errorf("lab %s: stored lab file: %w", name, err)
	}
	top.Source, top.Dir, top.Builtin = meta.Source, meta.Dir, meta.Builtin
	return &Lab{Name: name, Dir: m.Paths.LabDir(name), Topology: top, Logger: m.log().With("lab", name)}, nil
}

// Node returns a handle to a node of a running lab.
func (m *Manager) Node(l *Lab, name string) (Node, error) {
	n := l.Topology.Node(name)
	if n == nil {
		var ns []string
		for _, x := range l.Topology.Nodes {
			ns = append(ns, x.Name)
		}
		return nil, fmt.Errorf("lab %s has no node %q (nodes: %s)", l.Name, name, strings.Join(ns, ", "))
	}
	return m.Provider.Node(l, n)
}

// Add adds networks and nodes to a lab, creating the lab if it does not
// exist. Networks that already exist must be identical; nodes must be new.
func (m *Manager) Add(ctx context.Context, name string, nets []topology.Network, nodes []topology.Node) (*Lab, error) {
	if why := topology.ValidLabName(name); why != "" {
		return nil, fmt.Errorf("lab name %q %s", name, why)
	}
	lk, err := m.lock(ctx, name)
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	l, err := m.Load(name)
	if errors.Is(err, ErrNoLab) {
		if exists, what := m.exists(ctx, name); exists {
			return nil, fmt.Errorf("lab %q is in a broken state (%s); remove it with: onp down %s", name, what, name)
		}
		top := &topology.Topology{Name: name, Networks: nets, Nodes: nodes, Source: "onp commands"}
		topology.SetDefaults(top)
		if err := topology.Validate(top); err != nil {
			return nil, err
		}
		return m.create(ctx, name, top, UpOptions{})
	}
	if err != nil {
		return nil, err
	}
	merged := *l.Topology
	merged.Networks = slices.Clone(merged.Networks)
	merged.Nodes = slices.Clone(merged.Nodes)
	var newNets []topology.Network
	for _, n := range nets {
		if old := l.Topology.Network(n.Name); old != nil {
			if old.Subnet != n.Subnet {
				return nil, fmt.Errorf("lab %s already has network %s with subnet %s, not %s", name, n.Name, old.Subnet, n.Subnet)
			}
			continue
		}
		merged.Networks = append(merged.Networks, n)
		newNets = append(newNets, n)
	}
	for _, n := range nodes {
		if l.Topology.Node(n.Name) != nil {
			return nil, fmt.Errorf("lab %s already has a node %s; pick another name, or remove the lab with onp down %s", name, n.Name, name)
		}
		merged.Nodes = append(merged.Nodes, n)
	}
	topology.SetDefaults(&merged)
	if err := topology.Validate(&merged); err != nil {
		return nil, err
	}
	newNodes := merged.Nodes[len(l.Topology.Nodes):]
	l.Topology = &merged
	if err := m.phase("Checking the host", func() error { return m.preflight(ctx, l, newNodes) }); err != nil {
		return nil, err
	}
	j, err := OpenJournal(l.Dir)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	l.Journal = j
	if step, err := m.build(ctx, l, newNets, newNodes); err != nil {
		return nil, &StepError{Step: step, Err: err}
	}
	if err := m.save(l); err != nil {
		return nil, err
	}
	return l, nil
}

// Down removes a lab: every process, namespace and link of it that can be
// found, with or without its journal and lab file. It is idempotent.
func (m *Manager) Down(ctx context.Context, name string) (*DestroyReport, error) {
	if why := topology.ValidLabName(name); why != "" {
		return nil, fmt.Errorf("lab name %q %s", name, why)
	}
	lk, err := m.lock(ctx, name)
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	return m.destroy(ctx, name)
}

func (m *Manager) destroy(ctx context.Context, name string) (*DestroyReport, error) {
	dir := m.Paths.LabDir(name)
	entries, err := ReadJournal(dir)
	if err != nil {
		m.log().Warn("journal unreadable; removing by tags only", "lab", name, "err", err)
	}
	rep, err := m.Provider.Destroy(ctx, name, entries)
	if err != nil {
		return rep, err
	}
	for _, d := range []string{RunDir(name), dir} {
		if _, err := os.Stat(d); err == nil {
			if err := os.RemoveAll(d); err != nil {
				return rep, fmt.Errorf("remove %s: %w", d, err)
			}
			rep.Files = append(rep.Files, d)
		}
	}
	return rep, nil
}

// Labs lists every lab that exists in any form: a directory, or objects
// found by tags.
func (m *Manager) Labs(ctx context.Context) ([]string, error) {
	set := map[string]bool{}
	ents, err := os.ReadDir(m.Paths.LabsDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if e.IsDir() && topology.ValidLabName(e.Name()) == "" {
			set[e.Name()] = true
		}
	}
	found, err := m.Provider.Labs(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range found {
		set[n] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// DownAll removes every lab.
func (m *Manager) DownAll(ctx context.Context) (map[string]*DestroyReport, error) {
	labs, err := m.Labs(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*DestroyReport{}
	var errs []error
	for _, n := range labs {
		rep, err := m.Down(ctx, n)
		out[n] = rep
		if err != nil {
			errs = append(errs, fmt.Errorf("lab %s: %w", n, err))
		}
	}
	return out, errors.Join(errs...)
}

// Inspect reports what exists of a running lab.
func (m *Manager) Inspect(ctx context.Context, l *Lab) (*Inventory, error) {
	return m.Provider.Inspect(ctx, l)
}
