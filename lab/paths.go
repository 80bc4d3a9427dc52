package lab

import (
	"os"
	"path/filepath"
)

// DefaultHome is where labs keep their state unless ONP_HOME says otherwise.
const DefaultHome = "/var/lib/onp"

// Home returns the state directory: $ONP_HOME or /var/lib/onp.
func Home() string {
	if h := os.Getenv("ONP_HOME"); h != "" {
		return h
	}
	return DefaultHome
}

// Paths locates the files of labs under a state directory.
type Paths struct{ Home string }

// LabsDir holds one directory per lab.
func (p Paths) LabsDir() string { return filepath.Join(p.Home, "labs") }

// LabDir is the directory of one lab: journal, lab file, logs, pid files,
// per-node state.
func (p Paths) LabDir(name string) string { return filepath.Join(p.Home, "labs", name) }

// LockFile serialises commands on one lab. It lives outside the lab
// directory so that removing the lab does not remove a held lock.
func (p Paths) LockFile(name string) string { return filepath.Join(p.Home, "locks", name+".lock") }

// RunBase holds short-lived runtime files (unix sockets, pid files) of
// labs, one directory per lab. Socket paths must stay under 108 bytes, so
// they live here rather than under a possibly long $ONP_HOME.
const RunBase = "/run/onp"

// RunDir is a lab's runtime directory; down removes it.
func RunDir(labName string) string { return filepath.Join(RunBase, labName) }

// NodeRunDir is one node's runtime directory.
func NodeRunDir(labName, node string) string { return filepath.Join(RunBase, labName, node) }
