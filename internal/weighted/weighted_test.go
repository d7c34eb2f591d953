package weighted

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCounts(t *testing.T) {
	for _, c := range []struct {
		name  string
		tiers [][]uint32
		want  []int
		total int
	}{
		{"canary exact", [][]uint32{{100, 100, 1}}, []int{100, 100, 1}, 201},
		{"reduced by gcd", [][]uint32{{30, 10}}, []int{3, 1}, 4},
		{"equal weights", [][]uint32{{7, 7, 7}}, []int{1, 1, 1}, 3},
		// A tier keeps its unweighted share (2 of 3 members: 2/3 of the
		// slots); inside it 3:1.
		{"two tiers", [][]uint32{{3, 1}, {1}}, []int{3, 1, 2}, 6},
		{"two weighted tiers", [][]uint32{{1, 2}, {1, 1, 2}}, []int{8, 16, 9, 9, 18}, 60},
		// 1001 does not divide into 256 slots: apportioned, every member
		// at least one slot.
		{"apportioned", [][]uint32{{1000, 1}}, []int{255, 1}, 256},
		{"apportioned by remainder", [][]uint32{{500, 300, 201}}, []int{128, 77, 51}, 256},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, total := Counts(c.tiers)
			if !slices.Equal(got, c.want) || total != c.total {
				t.Fatalf("Counts(%v) = %v of %d, want %v of %d", c.tiers, got, total, c.want, c.total)
			}
		})
	}
}

// Whatever the weights, the counts add up to the slots, every member has
// one, the total stays within max(MinSlots, members), and each member is
// within two slots of its share when the pool is of a usual size.
func TestCountsProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var tiers [][]uint32
		n := 0
		for range 1 + r.IntN(4) {
			var tier []uint32
			for range 1 + r.IntN(6) {
				tier = append(tier, uint32(1+r.IntN(r.IntN(65535)+1)))
			}
			tiers = append(tiers, tier)
			n += len(tier)
		}
		if r.IntN(20) == 0 { // now and then a pool larger than MinSlots
			tiers = append(tiers, slices.Repeat([]uint32{1, 2}, 150))
			n += 300
		}
		counts, total := Counts(tiers)
		if total > max(MinSlots, n) {
			t.Fatalf("%v: %d slots, more than %d", tiers, total, max(MinSlots, n))
		}
		sum, i := 0, 0
		for _, tier := range tiers {
			var w float64
			for _, x := range tier {
				w += float64(x)
			}
			for _, x := range tier {
				if counts[i] < 1 {
					t.Fatalf("%v: member %d has no slot", tiers, i)
				}
				share := float64(total) * float64(len(tier)) / float64(n) * float64(x) / w
				// Bumped members' slots come from others: with hundreds of
				// members under one slot's share the donors lose more.
				if n <= 64 && math.Abs(float64(counts[i])-share) > 2 {
					t.Fatalf("%v: member %d has %d slots, share %.2f", tiers, i, counts[i], share)
				}
				sum += counts[i]
				i++
			}
		}
		if sum != total {
			t.Fatalf("%v: counts %v add up to %d, not %d", tiers, counts, sum, total)
		}
	}
}

func TestSequence(t *testing.T) {
	if got, want := Sequence([]int{2, 1}), []int{0, 1, 0}; !slices.Equal(got, want) {
		t.Fatalf("Sequence(2,1) = %v, want %v", got, want)
	}
	// Smooth: 5:1:1 does not put a's five slots together.
	if got, want := Sequence([]int{5, 1, 1}), []int{0, 0, 1, 0, 2, 0, 0}; !slices.Equal(got, want) {
		t.Fatalf("Sequence(5,1,1) = %v, want %v", got, want)
	}
	counts := []int{100, 100, 1}
	seq := Sequence(counts)
	for m, c := range counts {
		if n := count(seq, m); n != c {
			t.Errorf("member %d in %d slots, want %d", m, n, c)
		}
	}
}

func count(s []int, v int) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestWindows(t *testing.T) {
	rots, slots := Windows([]int{0, 1, 0}, 2, 8)
	if want := [][]int{{0, 1}, {1, 0}}; !slices.EqualFunc(rots, want, slices.Equal) {
		t.Fatalf("rotations %v, want %v", rots, want)
	}
	if want := []uint16{0, 1, 0}; !slices.Equal(slots, want) {
		t.Fatalf("slots %v, want %v", slots, want)
	}
	// Every window has distinct members, starts with its slot's member and
	// is as long as it can be.
	seq := Sequence([]int{100, 100, 1})
	rots, slots = Windows(seq, 3, 2)
	for s, id := range slots {
		w := rots[id]
		if len(w) != 2 || w[0] != seq[s] || w[0] == w[1] {
			t.Fatalf("slot %d (member %d): window %v", s, seq[s], w)
		}
	}
	if len(rots) > 6 {
		t.Fatalf("%d distinct windows of 2 out of 3 members, at most 6 exist", len(rots))
	}
}

// Index spreads any regular stride of the counter over the slots: every
// query, every second one (A and AAAA alternating on one counter) and
// every third.
func TestIndexSpread(t *testing.T) {
	const n, queries = 201, 100_000
	for _, stride := range []uint32{1, 2, 3, 4} {
		hits := make([]int, n)
		c := uint32(0xdeadbeef)
		for range queries {
			c += stride
			hits[Index(c, n)]++
		}
		want := float64(queries) / n
		for s, h := range hits {
			if math.Abs(float64(h)-want) > 0.05*want {
				t.Fatalf("stride %d: slot %d hit %d times, want %.1f ± 5%%", stride, s, h, want)
			}
		}
	}
	for _, c := range []uint32{0, 1, math.MaxUint32} {
		for _, n := range []int{1, 2, 201, MaxSlots} {
			if i := Index(c, n); i < 0 || i >= n {
				t.Fatalf("Index(%d, %d) = %d", c, n, i)
			}
		}
	}
}

// The canary of 100:100:1: over 100,000 simulated queries, a client that
// takes the first record sends each backend its share. The queries are a
// fixed-seed random mix of A and AAAA on one counter (only the A queries
// count), started at a seeded counter value. Tolerance: five standard
// deviations of a binomial count of the same size.
func TestFirstShareSimulated(t *testing.T) {
	weights := []uint32{100, 100, 1}
	counts, total := Counts([][]uint32{weights})
	seq := Sequence(counts)
	rots, slots := Windows(seq, len(weights), 8)
	r := rand.New(rand.NewPCG(15, 2026))
	c := r.Uint32()
	first := make([]int, len(weights))
	asked := 0
	for asked < 100_000 {
		c++
		if r.IntN(2) == 0 { // an AAAA query of the same service
			continue
		}
		asked++
		first[rots[slots[Index(c, total)]][0]]++
	}
	for m, w := range weights {
		p := float64(w) / 201
		got := float64(first[m]) / float64(asked)
		tol := 5 * math.Sqrt(p*(1-p)/float64(asked))
		t.Logf("backend %d (weight %d): first %.3f%%, want %.3f%% ± %.3f", m, w, 100*got, 100*p, 100*tol)
		if math.Abs(got-p) > tol {
			t.Errorf("backend %d: first-record share %.3f%%, want %.3f%% ± %.3f", m, 100*got, 100*p, 100*tol)
		}
	}
}
