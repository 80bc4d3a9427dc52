package kinds

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/onp-lab/onp/internal/frr"
)

// FRRRouterOptions configure the process behind the frr kind.
type FRRRouterOptions struct {
	// ConfigPath is the frr.conf text to apply.
	ConfigPath string
	// RunDir holds FRR's sockets and pid files (short path).
	RunDir string
	// LogDir holds the daemons' logs.
	LogDir string
	Logger *slog.Logger
}

// RunFRRRouter runs an FRR instance in the current network namespace until
// ctx ends: it applies the configuration, writes RunDir/ready, and restarts
// a daemon that dies (re-applying the configuration).
func RunFRRRouter(ctx context.Context, o FRRRouterOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conf, err := os.ReadFile(o.ConfigPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.RunDir, 0o755); err != nil {
		return err
	}
	restarts := make(chan string, 8)
	in, err := frr.Start(ctx, frr.Options{
		Dir:    o.RunDir,
		Logger: log,
		OnExit: func(d string, err error) {
			log.Warn("FRR daemon exited; restarting it", "daemon", d, "err", err)
			select {
			case restarts <- d:
			default:
			}
		},
	})
	if err != nil {
		return err
	}
	defer in.Stop(context.Background())
	apply := func() error {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := in.Apply(actx, string(conf))
		if err != nil {
			return fmt.Errorf("apply %s: %w", o.ConfigPath, err)
		}
		log.Info("configuration applied", "commands", len(res.Commands), "took", res.Duration)
		return nil
	}
	if err := apply(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.RunDir, "ready"), nil, 0o644); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-restarts:
			if err := in.Restart(ctx, d); err != nil {
				log.Error("restart failed", "daemon", d, "err", err)
				continue
			}
			if err := apply(); err != nil {
				log.Error("re-apply failed", "err", err)
			}
		}
	}
}
