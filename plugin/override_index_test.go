package hadns

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
)

// TestOverrideIndexAgrees: the index picks exactly the override the linear
// scan picks, for random override lists (every selector kind, with and
// without a service part, equal times, expired ones) over every backend.
func TestOverrideIndexAgrees(t *testing.T) {
	s, _ := selService(t, nil)
	now := time.Unix(1000, 0)
	r := rand.New(rand.NewPCG(1, 2))
	var ids []string
	for _, b := range s.backends {
		ids = append(ids, b.ID(), b.addr.String(), "api.example.test/"+b.ID(), "www.example.test/"+b.addr.String())
	}
	globs := []string{"10.1.*", "10.*", "api.*/10.1.*", "*", "10.2.0.?:80"}
	for round := range 500 {
		list := make([]adminapi.Override, r.IntN(12))
		for i := range list {
			o := adminapi.Override{ID: fmt.Sprint(i), Action: []string{"drain", "down", "up"}[r.IntN(3)], At: now.Add(-time.Duration(r.IntN(3)) * time.Second)}
			switch r.IntN(3) {
			case 0:
				o.Backend = ids[r.IntN(len(ids))]
			case 1:
				o.Site = []string{"east", "west", "north"}[r.IntN(3)]
			default:
				o.Glob = globs[r.IntN(len(globs))]
			}
			if r.IntN(4) == 0 {
				o.Expires = now.Add(time.Duration(r.IntN(3)-1) * time.Second)
			}
			list[i] = o
		}
		x := indexOverrides(list)
		for _, b := range s.backends {
			want, got := effective(list, s.name, b, now), x.effective(s.name, b, now)
			if want != got {
				t.Fatalf("round %d, backend %s: index picks %+v, the scan %+v\nlist %+v", round, b.ID(), got, want, list)
			}
		}
	}
}

// BenchmarkOverridePass: one pass over 10,000 backends with 1,000
// backend overrides, linear against indexed (the ratio is the figure).
func BenchmarkOverridePass(b *testing.B) {
	var backends []*backend
	addr := netip.MustParseAddr("10.0.0.1")
	for range 10000 {
		backends = append(backends, &backend{addr: addr, port: 80, site: "east"})
		addr = addr.Next()
	}
	const svc = "api.example.test."
	var list []adminapi.Override
	for i := range 1000 {
		list = append(list, adminapi.Override{ID: fmt.Sprint(i), Action: "drain", Backend: backends[i*10].ID()})
	}
	now := time.Unix(1000, 0)
	b.Run("linear", func(b *testing.B) {
		for b.Loop() {
			for _, bk := range backends {
				effective(list, svc, bk, now)
			}
		}
	})
	b.Run("indexed", func(b *testing.B) {
		for b.Loop() {
			x := indexOverrides(list)
			for _, bk := range backends {
				x.effective(svc, bk, now)
			}
		}
	})
}
