package vyos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// configDir is where VyOS keeps configuration files: "save NAME" and
// "load NAME" with a relative name mean /config/NAME.
const configDir = "/config"

// routerFile is a file named in a command: as the router shows it
// (/config/backup.boot) and where it is on this machine.
type routerFile struct {
	shown, host string
	// boot: the file is the router's config.boot.
	boot bool
}

// errRemote answers save/load of a URL.
var errRemote = errors.New("remote locations (scp://, tftp://, http://, ...) are not supported by this router: copy files with scp/sftp and use a path")

// file resolves a path of the router's file system (RouterOptions.FilesRoot
// is its /) and keeps it there: no path leads out of the file area.
func (r *Router) file(p string) (routerFile, error) {
	if strings.Contains(p, "://") {
		return routerFile{}, errRemote
	}
	if r.opts.FilesRoot == "" {
		return routerFile{}, errors.New("this router has no file area: only \"save\" to /config/config.boot is possible")
	}
	if !strings.HasPrefix(p, "/") {
		p = configDir + "/" + p
	}
	shown := filepath.Clean(p)
	root, err := filepath.EvalSymlinks(r.opts.FilesRoot)
	if err != nil {
		return routerFile{}, err
	}
	host := filepath.Join(root, shown)
	// The directory must exist; links in it must stay in the file area,
	// except /config/config.boot, which is the router's saved configuration.
	dir, err := filepath.EvalSymlinks(filepath.Dir(host))
	if err != nil {
		return routerFile{}, fmt.Errorf("%s: no such directory", filepath.Dir(shown))
	}
	if dir != root && !strings.HasPrefix(dir, root+string(filepath.Separator)) {
		return routerFile{}, fmt.Errorf("%s: outside the router's file system", shown)
	}
	host = filepath.Join(dir, filepath.Base(host))
	boot := filepath.Join(r.opts.Dir, ConfigBoot)
	if t, ok := target(host); ok && t == target1(boot) {
		return routerFile{shown: shown, host: boot, boot: true}, nil
	}
	if t, err := filepath.EvalSymlinks(host); err == nil && t != root && !strings.HasPrefix(t, root+string(filepath.Separator)) {
		return routerFile{}, fmt.Errorf("%s: outside the router's file system", shown)
	}
	return routerFile{shown: shown, host: host}, nil
}

// target is where a symbolic link points (its directory resolved), also
// when what it points to does not exist yet; ok is false for a path that
// is not a link.
func target(p string) (string, bool) {
	fi, err := os.Lstat(p)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return "", false
	}
	t, err := os.Readlink(p)
	if err != nil {
		return "", false
	}
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(p), t)
	}
	return target1(t), true
}

// target1 is p with the links of its directory resolved.
func target1(p string) string {
	if d, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(d, filepath.Base(p))
	}
	return filepath.Clean(p)
}

// SaveTo is "save FILE": the committed configuration written to a file of
// the router's file system (FILE relative to /config); the router's own
// /config/config.boot is Save.
func (r *Router) SaveTo(name string) (string, error) {
	if name == "" {
		return r.Save()
	}
	f, err := r.file(name)
	if err != nil {
		return "", err
	}
	if f.boot {
		return r.Save()
	}
	r.mu.Lock()
	text := r.active.Boot()
	r.mu.Unlock()
	if err := writeFileAtomic(f.host, text); err != nil {
		return "", fmt.Errorf("cannot write %s: %w", f.shown, errors.Unwrap(err))
	}
	if r.opts.Dialect == V13 {
		return fmt.Sprintf("Saving configuration to '%s'...\nDone\n", f.shown), nil
	}
	return "", nil
}

// ReadConfigFile reads a configuration file of the router's file system
// (config.boot format, FILE relative to /config; empty means
// /config/config.boot) for "load" and "merge". It returns the path as the
// router shows it.
func (r *Router) ReadConfigFile(name string) (*Config, string, error) {
	if name == "" {
		name = configDir + "/" + ConfigBoot
	}
	var f routerFile
	if r.opts.FilesRoot == "" && filepath.Clean(name) == configDir+"/"+ConfigBoot {
		f = routerFile{shown: configDir + "/" + ConfigBoot, host: filepath.Join(r.opts.Dir, ConfigBoot), boot: true}
	} else {
		var err error
		if f, err = r.file(name); err != nil {
			return nil, name, err
		}
	}
	b, err := os.ReadFile(f.host)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, f.shown, fmt.Errorf("Cannot open configuration file %s: No such file or directory", f.shown)
		}
		return nil, f.shown, fmt.Errorf("Cannot open configuration file %s: %v", f.shown, errors.Unwrap(err))
	}
	c, err := ParseBoot(r.opts.Dialect, string(b))
	if err != nil {
		return nil, f.shown, fmt.Errorf("%s is not a configuration this router reads: %v", f.shown, err)
	}
	return c, f.shown, nil
}

// writeFileAtomic writes text to path through a temporary file in the
// same directory.
func writeFileAtomic(path, text string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(text)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o660)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
	}
	return werr
}
