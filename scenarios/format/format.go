// Package format is the scenario file: a lab (a built-in lab's name, a lab
// file or the lab inline), ordered steps and final checks. It decodes
// strictly and validates everything at once, with file:line:col and field
// paths, before any lab is built. Package scenarios runs scenarios and
// holds the built-in catalogue.
package format

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/onp-lab/onp/internal/yamlx"
	"github.com/onp-lab/onp/scenarios/spec"
	"github.com/onp-lab/onp/topology"
)

// Scenario is a scenario file: a lab, ordered steps and final checks.
type Scenario struct {
	// Name names the scenario (and the labs it runs in): lower-case
	// letters, digits and '-'.
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// Lab is a built-in lab's name, a lab file (relative to the scenario
	// file), or a lab written inline.
	Lab yaml.Node `yaml:"lab"`
	// Steps run in order.
	Steps []Step `yaml:"steps,omitempty"`
	// Checks run after the last step.
	Checks []spec.Check `yaml:"checks,omitempty"`

	// Topology is the resolved lab.
	Topology *topology.Topology `yaml:"-"`
	// Source names where the scenario came from (a path or builtin:NAME).
	Source string `yaml:"-"`

	fsys    fs.FS // where relative files are read from
	dir     string
	builtin bool
	doc     *yamlx.Doc
}

// Step is one step of a scenario; exactly one of its actions is set.
type Step struct {
	// Name is shown in reports instead of a description of the action.
	Name   string         `yaml:"name,omitempty"`
	Apply  *ApplyStep     `yaml:"apply,omitempty"`
	Router *RouterStep    `yaml:"router,omitempty"`
	Wait   *spec.Duration `yaml:"wait,omitempty"`
	Check  []spec.Check   `yaml:"check,omitempty"`
	Fault  *FaultStep     `yaml:"fault,omitempty"`
	Delete *DeleteStep    `yaml:"delete,omitempty"`
	Exec   *ExecStep      `yaml:"exec,omitempty"`

	// data is the content of Apply.File, Router.File (read at validation).
	data []byte
}

// Data is what Apply.File or Router.File holds (read at validation), or
// Apply.Manifests.
func (s *Step) Data() []byte { return s.data }

// ApplyStep applies Kubernetes/MetalLB manifests through the cluster API,
// as onp apply -f would.
type ApplyStep struct {
	// Node is the cluster node; empty means the lab's only one.
	Node string `yaml:"node,omitempty"`
	// File is a multi-document YAML file relative to the scenario file.
	File string `yaml:"file,omitempty"`
	// Manifests is the YAML itself, inline.
	Manifests string `yaml:"manifests,omitempty"`
}

// RouterStep configures a VyOS router.
type RouterStep struct {
	Node string `yaml:"node"`
	// Commands are configuration commands (set/delete ...), or with Typed
	// the lines to type (configure, set ..., commit, save, exit).
	Commands []string `yaml:"commands,omitempty"`
	// File holds the commands instead, one a line (e.g. the seed lab's
	// 04-vyos-commands.txt); configure/commit/save/exit lines and comments
	// are skipped unless Typed.
	File string `yaml:"file,omitempty"`
	// Typed types the lines into the interactive CLI over SSH, as a person
	// would, instead of pushing them with the driver.
	Typed bool `yaml:"typed,omitempty"`
}

// Fault actions.
const (
	FaultLinkDown      = "link-down"
	FaultLinkUp        = "link-up"
	FaultStop          = "stop"
	FaultStart         = "start"
	FaultKill          = "kill"
	FaultRestart       = "restart"
	FaultBlock         = "block"
	FaultReject        = "reject"
	FaultUnblock       = "unblock"
	FaultRestartRouter = "restart-router"
	FaultRouteDelete   = "route-delete"
	FaultRouteAdd      = "route-add"
)

// FaultActions lists the fault actions.
var FaultActions = []string{FaultLinkDown, FaultLinkUp, FaultStop, FaultStart, FaultKill, FaultRestart, FaultBlock, FaultReject, FaultUnblock, FaultRestartRouter, FaultRouteDelete, FaultRouteAdd}

// FaultStep breaks or repairs something in the running lab.
type FaultStep struct {
	// Action is one of FaultActions.
	Action string `yaml:"action"`
	Node   string `yaml:"node,omitempty"`
	// Interface is a node's interface (link-down/link-up).
	Interface string `yaml:"interface,omitempty"`
	// BridgePort is a bridge port in the fabric, <node>-eth<N>: the switch
	// side of a node's interface (link-down/link-up).
	BridgePort string `yaml:"bridgePort,omitempty"`
	// Service is a supervised process of the node (stop/start/kill/restart):
	// speaker or cluster (sno), router (vyos), frr, bird, gobgpd, or a host
	// service's name.
	Service string `yaml:"service,omitempty"`
	// Protocol (tcp or udp) and Port are what block drops, reject refuses
	// (a TCP reset or an ICMP port unreachable for packets to the port),
	// and unblock lets through again.
	Protocol string `yaml:"protocol,omitempty"`
	Port     uint16 `yaml:"port,omitempty"`
	// To is the destination of a kernel route in the node's main table
	// (route-delete, route-add): a prefix or "default". Via is its next
	// hop (required for route-add; for route-delete it picks the route).
	To  string `yaml:"to,omitempty"`
	Via string `yaml:"via,omitempty"`
}

// ExecStep runs a command inside a node, as onp exec does (in the node's
// network namespace, with the host's file system): what a person types at
// a node's shell, e.g. nft or ip. A non-zero exit status fails the step.
type ExecStep struct {
	Node string `yaml:"node"`
	// Command is the program and its arguments (no shell).
	Command []string `yaml:"command"`
	// Stdin is written to the command's standard input.
	Stdin string `yaml:"stdin,omitempty"`
}

// DeleteStep deletes cluster objects.
type DeleteStep struct {
	// Node is the cluster node; empty means the lab's only one.
	Node    string      `yaml:"node,omitempty"`
	Objects []ObjectRef `yaml:"objects"`
}

// Kind names the step's action.
func (s *Step) Kind() string {
	switch {
	case s.Apply != nil:
		return "apply"
	case s.Router != nil:
		return "router"
	case s.Wait != nil:
		return "wait"
	case s.Check != nil:
		return "check"
	case s.Fault != nil:
		return "fault"
	case s.Delete != nil:
		return "delete"
	case s.Exec != nil:
		return "exec"
	}
	return ""
}

// Title describes the step for reports.
func (s *Step) Title() string {
	if s.Name != "" {
		return s.Name
	}
	switch {
	case s.Apply != nil:
		if s.Apply.File != "" {
			return "apply " + s.Apply.File
		}
		return "apply inline manifests"
	case s.Router != nil:
		how := "push"
		if s.Router.Typed {
			how = "type"
		}
		what := fmt.Sprintf("%d commands", len(s.Router.Commands))
		if len(s.Router.Commands) == 1 {
			what = "1 command"
		}
		if s.Router.File != "" {
			what = s.Router.File
		}
		return fmt.Sprintf("%s %s on router %s", how, what, s.Router.Node)
	case s.Wait != nil:
		return "wait " + s.Wait.D().String()
	case s.Check != nil:
		return fmt.Sprintf("check (%d)", len(s.Check))
	case s.Fault != nil:
		f := s.Fault
		switch f.Action {
		case FaultLinkDown, FaultLinkUp:
			if f.BridgePort != "" {
				return fmt.Sprintf("fault: %s bridge port %s", f.Action, f.BridgePort)
			}
			return fmt.Sprintf("fault: %s %s on %s", f.Action, f.Interface, f.Node)
		case FaultBlock, FaultReject, FaultUnblock:
			return fmt.Sprintf("fault: %s %s/%d on %s", f.Action, f.Protocol, f.Port, f.Node)
		case FaultRestartRouter:
			return "fault: restart router " + f.Node
		case FaultRouteDelete, FaultRouteAdd:
			t := fmt.Sprintf("fault: %s %s", f.Action, f.To)
			if f.Via != "" {
				t += " via " + f.Via
			}
			return t + " on " + f.Node
		}
		return fmt.Sprintf("fault: %s %s on %s", f.Action, f.Service, f.Node)
	case s.Delete != nil:
		var os []string
		for _, o := range s.Delete.Objects {
			os = append(os, o.String())
		}
		return "delete " + strings.Join(os, ", ")
	case s.Exec != nil:
		return fmt.Sprintf("exec on %s: %s", s.Exec.Node, strings.Join(s.Exec.Command, " "))
	}
	return "empty step"
}

// Load reads a scenario file.
func Load(file string) (*Scenario, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	abs, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, err
	}
	return Parse(file, data, os.DirFS("/"), strings.TrimPrefix(abs, "/"))
}

// ReadFile reads a file the scenario refers to, relative to the scenario
// file (or from the embedded files of a built-in).
func (s *Scenario) ReadFile(name string) ([]byte, error) {
	if filepath.IsAbs(name) {
		if !s.builtin {
			return os.ReadFile(name)
		}
		return nil, fmt.Errorf("%s: a built-in scenario can only use its own files", name)
	}
	return fs.ReadFile(s.fsys, path.Join(s.dir, filepath.ToSlash(name)))
}

// Doc returns the positions of the scenario file.
func (s *Scenario) Doc() *yamlx.Doc { return s.doc }

var scenarioNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// MaxScenarioName bounds scenario names.
const MaxScenarioName = 40

// Parse decodes, resolves and validates a scenario; every problem comes
// back at once, with file:line:col and field path. fsys and dir locate
// the files the scenario refers to.
func Parse(file string, data []byte, fsys fs.FS, dir string) (*Scenario, error) {
	return parse(file, data, fsys, dir, false)
}

// ParseBuiltin parses a scenario embedded in the binary: its files come
// from fsys only, and an inline lab must write its daemon configuration
// inline.
func ParseBuiltin(file string, data []byte, fsys fs.FS, dir string) (*Scenario, error) {
	return parse(file, data, fsys, dir, true)
}

func parse(file string, data []byte, fsys fs.FS, dir string, builtin bool) (*Scenario, error) {
	s := &Scenario{Source: file, fsys: fsys, dir: dir, builtin: builtin}
	doc, derr := yamlx.Decode(file, data, s)
	s.doc = doc
	if derr != nil && len(doc.Pos) == 0 {
		return nil, derr
	}
	v := &scenarioValidator{s: s, doc: doc, data: data}
	v.run()
	if err := yamlx.Merge(derr, v.errs.Err()); err != nil {
		return nil, err
	}
	return s, nil
}

type scenarioValidator struct {
	s    *Scenario
	doc  *yamlx.Doc
	data []byte
	// top is the lab, or as much of an invalid lab as could be decoded, so
	// that node references are checked even then.
	top  *topology.Topology
	ctx  *spec.Context
	errs yamlx.ErrorList
}

func (v *scenarioValidator) errorf(p, format string, args ...any) {
	v.errs = append(v.errs, v.doc.Errorf(p, format, args...))
}

func (v *scenarioValidator) written(p string) bool {
	_, ok := v.doc.Pos[p]
	return ok
}

func (v *scenarioValidator) run() {
	s := v.s
	v.name("name", "scenario", s.Name)
	v.lab()
	if v.s.Topology != nil {
		v.top = v.s.Topology
	}
	if v.top != nil {
		v.ctx = topology.CheckContext(v.top)
	}
	if len(s.Steps) == 0 && len(s.Checks) == 0 {
		v.errorf("", "a scenario needs steps or checks (or both)")
	}
	for i := range s.Steps {
		v.step(fmt.Sprintf("steps[%d]", i), &s.Steps[i])
	}
	v.errs = append(v.errs, spec.Validate(v.doc, "checks", s.Checks, v.ctx)...)
}

// name checks the name of a scenario (or of what else is named like one).
func (v *scenarioValidator) name(p, what, name string) {
	switch {
	case name == "":
		v.errorf(p, "a %s needs a name (lower-case letters, digits and '-')", what)
	case len(name) > MaxScenarioName:
		v.errorf(p, "%s name %q is longer than %d characters", what, name, MaxScenarioName)
	case !scenarioNameRE.MatchString(name):
		v.errorf(p, "%s name %q must be lower-case letters, digits and '-', starting and ending with a letter or digit", what, name)
	}
}

// lab resolves the lab: a built-in's name, a file, or inline.
func (v *scenarioValidator) lab() {
	n := &v.s.Lab
	switch n.Kind {
	case 0:
		v.errorf("lab", "a scenario needs a lab: a built-in lab's name (see onp topology list), a lab file, or the lab inline")
		return
	case yaml.ScalarNode:
		ref := n.Value
		if strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml") || strings.Contains(ref, "/") {
			data, err := v.s.ReadFile(ref)
			if err != nil {
				v.errorf("lab", "lab file %s: %v", ref, unwrapPath(err))
				return
			}
			name := ref
			if !v.s.builtin && !filepath.IsAbs(ref) {
				name = filepath.Join(filepath.Dir(v.s.Source), ref)
			}
			t, err := topology.Parse(name, data)
			if err != nil {
				v.errs = append(v.errs, foreignErrors(err, name)...)
				v.top = partialLab(name, data, nil)
				return
			}
			t.Dir = filepath.Dir(name)
			v.s.Topology = t
			return
		}
		t, err := topology.Builtin(ref)
		if err != nil {
			v.errorf("lab", "%v", err)
			return
		}
		v.s.Topology = t
	case yaml.MappingNode:
		text := v.inlineText(n, "lab")
		t, err := topology.Parse(v.doc.File, text)
		if err != nil {
			v.top = partialLab(v.doc.File, nil, n)
			var el yamlx.ErrorList
			if !errors.As(err, &el) {
				v.errorf("lab", "%v", err)
				return
			}
			for _, e := range el {
				e.Path = joinPath("lab", e.Path)
				v.errs = append(v.errs, e)
			}
			return
		}
		if v.s.builtin {
			for i, nd := range t.Nodes {
				for _, d := range []*topology.DaemonSpec{nd.FRR, nd.BIRD, nd.GoBGP} {
					if d != nil && d.ConfigFile != "" {
						v.errorf(fmt.Sprintf("lab.nodes[%d]", i), "a built-in scenario's inline lab must write its daemon configuration inline")
					}
				}
			}
		}
		t.Dir = filepath.Dir(v.s.Source)
		v.s.Topology = t
	default:
		v.errorf("lab", "lab must be a built-in lab's name, a lab file, or a lab written inline (a mapping)")
	}
}

// partialLab decodes what it can of an invalid lab (from data, or from
// the node n) for checking node references.
func partialLab(file string, data []byte, n *yaml.Node) *topology.Topology {
	t := &topology.Topology{}
	if n != nil {
		yamlx.DecodeNode(file, n, t)
	} else {
		yamlx.Decode(file, data, t)
	}
	topology.SetDefaults(t)
	return t
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func joinPath(prefix, p string) string {
	switch {
	case p == "":
		return prefix
	case strings.HasPrefix(p, "["):
		return prefix + p
	}
	return prefix + "." + p
}

// foreignErrors keeps the errors of a lab file the scenario refers to;
// they carry that file's own positions.
func foreignErrors(err error, file string) yamlx.ErrorList {
	var el yamlx.ErrorList
	if errors.As(err, &el) {
		return el
	}
	return yamlx.ErrorList{{File: file, Msg: err.Error()}}
}

// inlineText cuts the inline lab out of the scenario file so that the lab
// parser sees it at its original lines and columns: lines before it are
// blanked, the text before its first column on its first line is replaced
// by spaces, and it ends before the scenario's next top-level key.
func (v *scenarioValidator) inlineText(n *yaml.Node, key string) []byte {
	lines := strings.SplitAfter(string(v.data), "\n")
	end := len(lines)
	var root yaml.Node
	if yaml.Unmarshal(v.data, &root) == nil && len(root.Content) == 1 {
		m := root.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key && i+2 < len(m.Content) {
				end = m.Content[i+2].Line - 1
			}
		}
	}
	var b bytes.Buffer
	for i := 0; i < len(lines) && i < end; i++ {
		l := lines[i]
		switch {
		case i < n.Line-1:
			b.WriteString("\n")
		case i == n.Line-1:
			cut := min(n.Column-1, len(l))
			b.WriteString(strings.Repeat(" ", cut))
			b.WriteString(l[cut:])
		default:
			b.WriteString(l)
		}
	}
	return b.Bytes()
}

func (v *scenarioValidator) step(p string, st *Step) {
	var set []string
	for _, k := range []string{"apply", "router", "wait", "check", "fault", "delete", "exec"} {
		if v.written(p + "." + k) {
			set = append(set, k)
		}
	}
	switch len(set) {
	case 0:
		v.errorf(p, "a step needs one of apply, router, wait, check, fault, delete or exec")
		return
	case 1:
	default:
		v.errorf(p+"."+set[1], "a step does one thing, this one has %s: split it into %d steps", strings.Join(set, " and "), len(set))
		return
	}
	switch set[0] {
	case "apply":
		v.apply(p+".apply", st)
	case "router":
		v.router(p+".router", st)
	case "wait":
		if st.Wait == nil || st.Wait.D() <= 0 || st.Wait.D() > spec.MaxWait {
			v.errorf(p+".wait", "wait needs a duration between 0s and %s, e.g. wait: 5s", spec.MaxWait)
		}
	case "check":
		if len(st.Check) == 0 {
			v.errorf(p+".check", "a check step needs a list of checks")
			if st.Check == nil {
				st.Check = []spec.Check{}
			}
		}
		v.errs = append(v.errs, spec.Validate(v.doc, p+".check", st.Check, v.ctx)...)
	case "fault":
		v.fault(p+".fault", st.Fault)
	case "delete":
		v.delete(p+".delete", st.Delete)
	case "exec":
		v.exec(p+".exec", st.Exec)
	}
}

func (v *scenarioValidator) exec(p string, e *ExecStep) {
	if e == nil {
		v.errorf(p, "exec needs node and command")
		return
	}
	v.node(p+".node", e.Node)
	if len(e.Command) == 0 || strings.TrimSpace(e.Command[0]) == "" {
		v.errorf(p+".command", "give the command as a list: the program and its arguments, e.g. [nft, list, ruleset]")
	}
}

// node checks a node reference and its kind.
func (v *scenarioValidator) node(p, name string, kinds ...string) *spec.NodeInfo {
	if name == "" {
		v.errorf(p, "give the node")
		return nil
	}
	if v.ctx == nil {
		return nil
	}
	n := v.ctx.Node(name)
	if n == nil {
		v.errorf(p, "unknown node %q (%s)", name, v.ctx.NodeNames())
		return nil
	}
	if len(kinds) > 0 && !slices.Contains(kinds, n.Kind) {
		v.errorf(p, "node %q is %s; this step needs %s", name, spec.KindPhrase(n.Kind), spec.KindPhrase(strings.Join(kinds, " or ")))
	}
	return n
}

// clusterNode checks the optional cluster node of apply/delete.
func (v *scenarioValidator) clusterNode(p, name string) {
	if name != "" {
		v.node(p+".node", name, "sno")
		return
	}
	if v.ctx == nil {
		return
	}
	var snos []string
	for _, n := range v.ctx.Nodes {
		if n.Kind == "sno" {
			snos = append(snos, n.Name)
		}
	}
	switch len(snos) {
	case 0:
		v.errorf(p, "the lab has no cluster node (kind sno) to send this to")
	case 1:
	default:
		v.errorf(p, "the lab has several cluster nodes (%s): give node", strings.Join(snos, ", "))
	}
}

func (v *scenarioValidator) apply(p string, st *Step) {
	a := st.Apply
	if a == nil {
		v.errorf(p, "apply needs file or manifests")
		return
	}
	v.clusterNode(p, a.Node)
	switch {
	case a.File != "" && a.Manifests != "":
		v.errorf(p, "give file or manifests, not both")
	case a.File != "":
		data, err := v.s.ReadFile(a.File)
		if err != nil {
			v.errorf(p+".file", "manifest file %s: %v", a.File, unwrapPath(err))
			return
		}
		st.data = data
		if _, err := yamlx.Documents(a.File, data); err != nil {
			v.errorf(p+".file", "%v", err)
		}
	case a.Manifests != "":
		st.data = []byte(a.Manifests)
		if _, err := yamlx.Documents("manifests", st.data); err != nil {
			v.errorf(p+".manifests", "%v", err)
		}
	default:
		v.errorf(p, "apply needs file (a YAML file) or manifests (inline YAML)")
	}
}

func (v *scenarioValidator) router(p string, st *Step) {
	r := st.Router
	if r == nil {
		v.errorf(p, "router needs node and commands or file")
		return
	}
	v.node(p+".node", r.Node, "vyos")
	var lines []string
	switch {
	case len(r.Commands) > 0 && r.File != "":
		v.errorf(p, "give commands or file, not both")
		return
	case r.File != "":
		data, err := v.s.ReadFile(r.File)
		if err != nil {
			v.errorf(p+".file", "command file %s: %v", r.File, unwrapPath(err))
			return
		}
		st.data = data
		lines = strings.Split(string(data), "\n")
	case len(r.Commands) > 0:
		lines = r.Commands
	default:
		v.errorf(p, "router needs commands (a list) or file (one command a line)")
		return
	}
	if r.Typed {
		return
	}
	cmds := ConfigLines(lines)
	if len(cmds) == 0 {
		v.errorf(p, "no set or delete commands to push")
	}
	if r.File == "" {
		for j, c := range r.Commands {
			w := strings.Fields(c)
			if len(w) > 0 && w[0] != "set" && w[0] != "delete" && !slices.Contains(sessionWords, w[0]) && !strings.HasPrefix(w[0], "#") {
				v.errorf(fmt.Sprintf("%s.commands[%d]", p, j), "%q is not a configuration command: push set ... or delete ... lines (or use typed: true to type anything)", c)
			}
		}
	}
}

// sessionWords are the lines of a typed configuration session that a push
// leaves out, since the driver adds them.
var sessionWords = []string{"configure", "commit", "save", "exit", "run"}

// ConfigLines keeps the set/delete lines of a typed configuration session.
func ConfigLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if slices.Contains(sessionWords, strings.Fields(l)[0]) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// defaultServices are the supervised processes of each kind.
var defaultServices = map[string][]string{
	"sno":   {"cluster", "speaker"},
	"vyos":  {"router"},
	"frr":   {"frr"},
	"bird":  {"bird"},
	"gobgp": {"gobgpd"},
}

// RouterService is the supervised process that is a router node's router.
func RouterService(kind string) string {
	if s := defaultServices[kind]; len(s) > 0 && kind != "sno" {
		return s[0]
	}
	return ""
}

func (v *scenarioValidator) fault(p string, f *FaultStep) {
	if f == nil {
		v.errorf(p, "fault needs an action (%s)", strings.Join(FaultActions, ", "))
		return
	}
	allowed := map[string][]string{
		FaultLinkDown: {"node", "interface", "bridgePort"}, FaultLinkUp: {"node", "interface", "bridgePort"},
		FaultStop: {"node", "service"}, FaultStart: {"node", "service"}, FaultKill: {"node", "service"}, FaultRestart: {"node", "service"},
		FaultBlock: {"node", "protocol", "port"}, FaultReject: {"node", "protocol", "port"}, FaultUnblock: {"node", "protocol", "port"},
		FaultRestartRouter: {"node"},
		FaultRouteDelete:   {"node", "to", "via"}, FaultRouteAdd: {"node", "to", "via"},
	}
	fields, ok := allowed[f.Action]
	if !ok {
		if f.Action == "" {
			v.errorf(p+".action", "a fault needs an action (%s)", strings.Join(FaultActions, ", "))
		} else {
			v.errorf(p+".action", "unknown fault action %q (actions: %s)", f.Action, strings.Join(FaultActions, ", "))
		}
		return
	}
	for _, fld := range []string{"node", "interface", "bridgePort", "service", "protocol", "port", "to", "via"} {
		if v.written(p+"."+fld) && !slices.Contains(fields, fld) {
			v.errorf(p+"."+fld, "field %q does not apply to fault %s (its fields: action, %s)", fld, f.Action, strings.Join(fields, ", "))
		}
	}
	switch f.Action {
	case FaultLinkDown, FaultLinkUp:
		switch {
		case f.BridgePort != "" && (f.Node != "" || f.Interface != ""):
			v.errorf(p+".bridgePort", "give node and interface (the node's side) or bridgePort (the fabric's side), not both")
		case f.BridgePort != "":
			v.bridgePort(p+".bridgePort", f.BridgePort)
		default:
			n := v.node(p+".node", f.Node)
			if f.Interface == "" {
				v.errorf(p, "give interface (e.g. eth0), or bridgePort instead of node")
			} else if n != nil && !slices.Contains(n.Interfaces, f.Interface) {
				v.errorf(p+".interface", "node %s has no interface %q (interfaces: %s)", n.Name, f.Interface, strings.Join(n.Interfaces, ", "))
			}
		}
	case FaultStop, FaultStart, FaultKill, FaultRestart:
		n := v.node(p+".node", f.Node)
		if f.Service == "" {
			v.errorf(p, "give the service: the supervised process to %s", f.Action)
		} else if n != nil {
			if have := v.services(n); have != nil && !slices.Contains(have, f.Service) {
				v.errorf(p+".service", "node %s has no service %q (services: %s)", n.Name, f.Service, strings.Join(have, ", "))
			}
		}
	case FaultBlock, FaultReject, FaultUnblock:
		v.node(p+".node", f.Node)
		if f.Protocol != "tcp" && f.Protocol != "udp" {
			v.errorf(p+".protocol", "protocol must be tcp or udp")
		}
		if f.Port == 0 {
			v.errorf(p+".port", "give the port to %s (1 to 65535)", f.Action)
		}
	case FaultRestartRouter:
		v.node(p+".node", f.Node, "vyos", "frr", "bird", "gobgp")
	case FaultRouteDelete, FaultRouteAdd:
		v.node(p+".node", f.Node)
		if _, err := RouteDestination(f.To); err != nil {
			v.errorf(p+".to", "%v", err)
		}
		switch {
		case f.Via != "":
			if _, err := netip.ParseAddr(f.Via); err != nil {
				v.errorf(p+".via", "via must be an address (the next hop), e.g. 192.168.126.3")
			}
		case f.Action == FaultRouteAdd:
			v.errorf(p, "give via: the next hop of the route to add")
		}
	}
}

// RouteDestination parses the destination of a route fault: a prefix, or
// "default" (0.0.0.0/0).
func RouteDestination(to string) (netip.Prefix, error) {
	switch to {
	case "":
		return netip.Prefix{}, errors.New("give to: the route's destination, a prefix or default")
	case "default":
		return netip.MustParsePrefix("0.0.0.0/0"), nil
	}
	p, err := netip.ParsePrefix(to)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("to must be a prefix such as 192.168.100.0/24, or default")
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("to %s has host bits set: did you mean %s?", to, p.Masked())
	}
	return p, nil
}

// services lists the known supervised processes of a node, or nil when
// they are not known in advance.
func (v *scenarioValidator) services(n *spec.NodeInfo) []string {
	if s, ok := defaultServices[n.Kind]; ok {
		return s
	}
	if n.Kind != "host" || v.top == nil {
		return nil
	}
	tn := v.top.Node(n.Name)
	var out []string
	if tn != nil && tn.Host != nil {
		for _, sv := range tn.Host.Services {
			out = append(out, sv.Name)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func (v *scenarioValidator) bridgePort(p, port string) {
	if v.top == nil {
		return
	}
	var ports []string
	for _, n := range v.top.Nodes {
		for j := range n.Interfaces {
			ports = append(ports, topology.PortName(n.Name, topology.IfName(j)))
		}
	}
	if !slices.Contains(ports, port) {
		v.errorf(p, "the lab has no bridge port %q (ports: %s)", port, strings.Join(ports, ", "))
	}
}

func (v *scenarioValidator) delete(p string, d *DeleteStep) {
	if d == nil || len(d.Objects) == 0 {
		v.errorf(p, "delete needs objects: a list of {kind, namespace, name}")
		return
	}
	v.clusterNode(p, d.Node)
	for j, o := range d.Objects {
		op := fmt.Sprintf("%s.objects[%d]", p, j)
		if o.Kind == "" {
			v.errorf(op+".kind", "give the object's kind, e.g. Service")
		}
		if o.Name == "" {
			v.errorf(op+".name", "give the object's name")
		}
	}
}

// WrapConfigure adds configure, commit, save and exit around lines of bare
// set/delete commands, so that typing them makes a whole session; blank
// lines and comments are dropped.
func WrapConfigure(lines []string) []string {
	var out []string
	hasConfigure := false
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		hasConfigure = hasConfigure || l == "configure"
		out = append(out, l)
	}
	if hasConfigure || len(out) == 0 {
		return out
	}
	return append(append([]string{"configure"}, out...), "commit", "save", "exit")
}

// ObjectRef names a cluster object.
type ObjectRef struct {
	APIVersion string `yaml:"apiVersion,omitempty" json:"apiVersion,omitempty"`
	Kind       string `yaml:"kind" json:"kind"`
	Namespace  string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Name       string `yaml:"name" json:"name"`
}

func (o ObjectRef) String() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}
