package allocator

import (
	"fmt"
	"testing"

	"github.com/onp-lab/onp/metallb/api"
)

// BenchmarkConverge10000: 10,000 services converged one by one (as the
// controller's rounds do) into a /16, auto-assigned (the search for the
// first free address) or each asking for its address.
func BenchmarkConverge10000(b *testing.B) {
	cfg := mustConfig(b, pool("big", "{addresses: [10.100.0.0/16]}"))
	for _, requested := range []bool{false, true} {
		b.Run(fmt.Sprintf("requested=%v", requested), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				a := New(cfg, Options{})
				svcs := make([]*api.Service, 10000)
				for j := range svcs {
					var opts []svcOpt
					if requested {
						opts = append(opts, ann("metallb.io/loadBalancerIPs", fmt.Sprintf("10.100.%d.%d", j/256, j%256)))
					}
					svcs[j] = service("apps", fmt.Sprintf("s%05d", j), opts...)
				}
				b.StartTimer()
				for _, s := range svcs {
					if _, err := a.Converge(s); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
