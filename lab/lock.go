package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is an exclusive advisory lock on one lab. The kernel drops it when
// the holder dies, so a killed command never leaves a lab locked.
type Lock struct{ f *os.File }

// AcquireLock takes the lab's lock, waiting until ctx is done.
func AcquireLock(ctx context.Context, p Paths, name string) (*Lock, error) {
	path := p.LockFile(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			f.Truncate(0)
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			b, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("lab %q is busy: another onp command (pid %s) is working on it; wait for it or stop it", name, strings.TrimSpace(string(b)))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Release drops the lock.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}
