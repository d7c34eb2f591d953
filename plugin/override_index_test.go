package hadns

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/zone"
)

// TestOverrideIndexAgrees: the index picks exactly the override the linear
// scan picks, for random override lists (every selector kind, with and
// without a service part, equal times, expired ones) over every backend.
func TestOverrideIndexAgrees(t *testing.T) {
	s, _ := selService(t, nil)
	now := time.Unix(1000, 0)
	r := rand.New(rand.NewPCG(1, 2))
	var ids []string
	for _, b := range s.Backends() {
		ids = append(ids, b.ID(), b.Addr().String(), "api.example.test/"+b.ID(), "www.example.test/"+b.Addr().String())
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
		for _, b := range s.Backends() {
			want, got := effective(list, s.Name(), b, now), x.effective(s.Name(), b, now)
			if want != got {
				t.Fatalf("round %d, backend %s: index picks %+v, the scan %+v\nlist %+v", round, b.ID(), got, want, list)
			}
		}
	}
}

// BenchmarkOverridePass: one pass over 10,000 backends with 1,000
// backend overrides, linear against indexed (the ratio is the figure).
func BenchmarkOverridePass(b *testing.B) {
	z, err := zone.Parse("z.yaml", []byte(boundsHead+manyBackends(10000)), time.Unix(1, 0))
	if err != nil {
		b.Fatal(err)
	}
	backends := z.Services()[0].Backends()
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
