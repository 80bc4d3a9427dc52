package appliance

import (
	"context"
	"errors"

	"github.com/onp-lab/onp/internal/frr"
)

// newEngine creates the configuration engine for the router.
func newEngine(ctx context.Context, opts Options, in *frr.Instance) (engine, error) {
	return nil, errors.New("the vyos configuration engine is not built into this binary yet")
}
