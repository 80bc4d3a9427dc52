// Package unixsock listens on and dials unix sockets whose paths are longer
// than a sockaddr_un holds (107 bytes), as lab directories under a test's
// temporary directory can be: it goes through /proc/self/fd/N of the
// socket's directory, which is short.
package unixsock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const maxPath = 107

// via runs fn with a short path that names the same file as path.
func via(path string, fn func(short string) error) error {
	if len(path) <= maxPath {
		return fn(path)
	}
	d, err := os.OpenFile(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(path)))
}

// Listen listens on path, replacing a stale socket left by a process that
// died (but not a socket another process still serves).
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 200e6)
		c, err := Dial(ctx, path)
		cancel()
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is in use: another process serves it; stop that process first", path)
		}
		os.Remove(path)
	}
	var ln net.Listener
	err := via(path, func(short string) error {
		var err error
		ln, err = net.Listen("unix", short)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	os.Chmod(path, 0o600)
	return &listener{Listener: ln, path: path}, nil
}

type listener struct {
	net.Listener
	path string
}

// Close stops listening and removes the socket file.
func (l *listener) Close() error {
	err := l.Listener.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// Dial connects to the socket at path.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var c net.Conn
	err := via(path, func(short string) error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "unix", short)
		return err
	})
	return c, err
}
