package vyos

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// save FILE, load FILE and merge FILE on the router's file system: a
// relative name is under /config, /config/config.boot is the router's own
// saved configuration, nothing leads out of the file area.
func TestSaveLoadMergeFiles(t *testing.T) {
	tr := newTestRouter(t, V13, nil)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "config"), 0o755)
	if err := os.Symlink(filepath.Join(tr.dir, ConfigBoot), filepath.Join(root, "config", ConfigBoot)); err != nil {
		t.Fatal(err)
	}
	tr.opts.FilesRoot = root
	sh := tr.NewShell("vyos")
	ctx := context.Background()
	exec := func(line string) string {
		t.Helper()
		out, _ := sh.Exec(ctx, line)
		return out
	}
	mustExec(t, sh, "configure", "set system host-name lab-r1", "set service ssh port 2222", "commit")
	if out := exec("save backup.boot"); out != "Saving configuration to '/config/backup.boot'...\nDone\n" {
		t.Fatalf("save backup.boot: %q", out)
	}
	b, err := os.ReadFile(filepath.Join(root, "config", "backup.boot"))
	if err != nil || !strings.Contains(string(b), "host-name lab-r1") {
		t.Fatalf("backup.boot: %v\n%s", err, b)
	}
	// The router's own file stays a link to its config.boot.
	if out := exec("save /config/config.boot"); !strings.Contains(out, "'/config/config.boot'") {
		t.Fatalf("save /config/config.boot: %q", out)
	}
	if fi, err := os.Lstat(filepath.Join(root, "config", ConfigBoot)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("/config/config.boot is no longer the router's config.boot: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(tr.dir, ConfigBoot)); !strings.Contains(string(b), "port 2222") {
		t.Fatalf("config.boot:\n%s", b)
	}
	// Load replaces the working configuration; commit makes it active.
	mustExec(t, sh, "delete system host-name", "delete service ssh", "commit")
	if out := exec("load backup.boot"); out != "Loading configuration from '/config/backup.boot'...\nLoad complete.  Use 'commit' to make changes active.\n" {
		t.Fatalf("load: %q", out)
	}
	if out := exec("compare"); !strings.Contains(out, "host-name lab-r1") {
		t.Fatalf("compare after load:\n%s", out)
	}
	mustExec(t, sh, "commit")
	if h := tr.HostName(); h != "lab-r1" {
		t.Fatalf("host name after load and commit: %q", h)
	}
	// Merge adds to the working configuration.
	os.WriteFile(filepath.Join(root, "config", "ssh.boot"), []byte("service {\n    ssh {\n        port 2200\n    }\n}\n"), 0o644)
	if out := exec("merge ssh.boot"); !strings.Contains(out, "Merge complete.") {
		t.Fatalf("merge: %q", out)
	}
	mustExec(t, sh, "commit")
	if s := tr.SSH(); !s.Enabled || len(s.Ports) != 1 || s.Ports[0] != 2200 || tr.HostName() != "lab-r1" {
		t.Fatalf("after merge: ssh %+v, host name %q", s, tr.HostName())
	}
	// What is refused, and how.
	os.Symlink("/etc", filepath.Join(root, "config", "etc"))
	for line, want := range map[string]string{
		"load missing.boot":        "Cannot open configuration file /config/missing.boot: No such file or directory",
		"load etc/hostname":        "/config/etc/hostname: outside the router's file system",
		"save ../../etc/x.boot":    "Saving configuration failed: /etc: no such directory",
		"save scp://h/x.boot":      "Saving configuration failed: remote locations",
		"merge":                    "Incomplete command: merge",
		"load a b":                 "Invalid argument \"b\" for 'load'",
		"load /config/backup.boot": "Load complete.",
	} {
		if out := exec(line); !strings.Contains(out, want) {
			t.Errorf("%s: %q, want %q", line, out, want)
		}
	}
	os.WriteFile(filepath.Join(root, "config", "bad.boot"), []byte("protocols {\n    nonsense 1\n}\n"), 0o644)
	if out := exec("load bad.boot"); !strings.Contains(out, "/config/bad.boot is not a configuration this router reads") {
		t.Errorf("load bad.boot: %q", out)
	}
}
