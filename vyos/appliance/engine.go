package appliance

import (
	"context"
	"path/filepath"

	"github.com/onp-lab/onp/internal/frr"
	"github.com/onp-lab/onp/vyos"
)

// vyosEngine is the configuration engine: a vyos.Router on the router's FRR.
type vyosEngine struct{ r *vyos.Router }

func (e vyosEngine) NewShell(user string) Shell        { return e.r.NewShell(user) }
func (e vyosEngine) Reapply(ctx context.Context) error { return e.r.Reapply(ctx) }
func (e vyosEngine) Close() error                      { return e.r.Close() }

// newEngine loads config.boot from the router directory into a vyos.Router
// that commits to the given FRR instance; onCommit follows every commit
// (the boot configuration's too).
func newEngine(ctx context.Context, opts Options, in *frr.Instance, onCommit func(*vyos.Config)) (engine, error) {
	r, err := vyos.NewRouter(ctx, vyos.RouterOptions{
		Dir:       opts.Dir,
		Dialect:   vyos.Dialect(opts.Dialect),
		FRR:       in,
		NetnsPath: opts.NetnsPath,
		FilesRoot: filepath.Join(opts.Dir, "files"),
		OnCommit:  onCommit,
		Logger:    opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	return vyosEngine{r: r}, nil
}
