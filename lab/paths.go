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
