package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/onp-lab/onp/internal/nsx"
	"github.com/onp-lab/onp/vyos"
)

// tcpListeners are the SSH server's TCP listeners. They follow "service
// ssh" as VyOS's sshd does: its ports and listen addresses after every
// commit. Sessions open when a listener goes stay up. Without "service
// ssh" the router keeps listening on Options.Listen (where real VyOS
// would stop sshd): onp and its users must not lose the router to a
// delete; the console socket is always there as well.
type tcpListeners struct {
	srv      *server
	nsPath   string
	fallback string
	log      *slog.Logger

	ctx  context.Context
	wg   *sync.WaitGroup
	errc chan<- error

	mu     sync.Mutex
	active map[string]chan struct{} // address → its retire channel
}

// want returns the addresses a configuration asks for.
func (t *tcpListeners) want(c *vyos.Config) []string {
	if svc := vyos.SSHServiceOf(c); svc.Enabled {
		return svc.Addrs()
	}
	return []string{t.fallback}
}

// follow applies a committed configuration: listeners and password logins.
// A listener that cannot be opened is logged; the commit stands.
func (t *tcpListeners) follow(c *vyos.Config) {
	svc := vyos.SSHServiceOf(c)
	t.srv.noPasswords.Store(svc.Enabled && svc.NoPasswords)
	if err := t.sync(t.want(c)); err != nil {
		t.log.Warn("service ssh: a listener could not be opened", "err", err)
	}
}

// sync opens the addresses not yet open and retires the others.
func (t *tcpListeners) sync(addrs []string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		return nil
	}
	var errs []error
	for _, a := range addrs {
		if _, ok := t.active[a]; ok {
			continue
		}
		ln, err := listenTCP(t.nsPath, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("ssh listen %s: %w", a, err))
			continue
		}
		retire := make(chan struct{})
		t.active[a] = retire
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if err := t.srv.serve(t.ctx, ln, retire); err != nil {
				select {
				case t.errc <- err: // Run stops the router on the first
				default:
				}
			}
		}()
		t.log.Info("ssh listening", "tcp", a)
	}
	for a, retire := range t.active {
		if !slices.Contains(addrs, a) {
			close(retire)
			delete(t.active, a)
			t.log.Info("ssh no longer listening", "tcp", a)
		}
	}
	return errors.Join(errs...)
}

// listenTCP opens a TCP listener inside the router's namespace. It may
// bind an address no interface has yet (IP_FREEBIND), as sshd with a
// listen-address configured before its interface comes up.
func listenTCP(nsPath, addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if network == "tcp6" {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_FREEBIND, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
			}
		})
		return errors.Join(err, serr)
	}}
	listen := func() (net.Listener, error) { return lc.Listen(context.Background(), "tcp", addr) }
	if nsPath == "" {
		return listen()
	}
	var l net.Listener
	err := nsx.Do(nsPath, func() error {
		var err error
		l, err = listen()
		return err
	})
	return l, err
}
