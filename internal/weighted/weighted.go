// Package weighted turns backend weights into a precomputed rotation: a
// sequence of slots in which each backend comes first in proportion to its
// weight, and for each slot the answer that starts there. It owns the
// arithmetic of weighted answers (apportioning slots, smooth weighted round
// robin, the answer windows and the per-query slot index) and knows nothing
// of DNS, sites or health: callers pass weights grouped in tiers and get
// indexes back. Everything here runs when answers are computed, except
// Index, which runs per query and neither allocates nor locks.
package weighted

import (
	"slices"
	"strconv"
	"strings"
)

// MinSlots is the fewest slots a rotation is cut into when the weights
// cannot be met exactly in fewer: a backend's share of first places is then
// right to within one slot in MinSlots (0.39%). A pool larger than
// MinSlots gets one slot per backend, so every backend comes first in some
// answer.
const MinSlots = 256

// Counts returns how many slots of the rotation each member gets (flattened
// in tier order) and the number of slots. tiers holds each tier's member
// weights (every weight at least 1). A tier gets the share of slots it gets
// without weights, its members over all members, so weights never move
// answers from one site to another; within a tier, slots follow weights.
//
// The counts are exact (each member's count over the total is exactly its
// share) when that fits in max(MinSlots, members) slots. Otherwise that many
// slots are apportioned by largest remainder, every member getting at least
// one; the slots those take come from the members most above their share.
func Counts(tiers [][]uint32) ([]int, int) {
	n := 0
	for _, t := range tiers {
		n += len(t)
	}
	if n == 0 {
		return nil, 0
	}
	limit := max(MinSlots, n)
	if c, total, ok := exact(tiers, n, limit); ok {
		return c, total
	}
	return apportion(tiers, n, limit), limit
}

// exact finds the smallest slot counts that meet the shares exactly. A
// member with reduced weight w in a tier of n_t members and reduced total
// W gets n_t·k·w/W slots, whole for every member when k is a multiple of
// W/gcd(W, n_t); k is the least common multiple of those over the tiers.
func exact(tiers [][]uint32, n, limit int) ([]int, int, bool) {
	k := uint64(1)
	type reduced struct{ g, total uint64 }
	red := make([]reduced, len(tiers))
	for i, t := range tiers {
		var g, total uint64
		for _, w := range t {
			g = gcd(g, uint64(w))
		}
		for _, w := range t {
			total += uint64(w) / g
		}
		red[i] = reduced{g, total}
		need := total / gcd(total, uint64(len(t)))
		k = k / gcd(k, need) * need
		if k*uint64(n) > uint64(limit) {
			return nil, 0, false
		}
	}
	out := make([]int, 0, n)
	for i, t := range tiers {
		for _, w := range t {
			out = append(out, int(uint64(len(t))*k*(uint64(w)/red[i].g)/red[i].total))
		}
	}
	return out, n * int(k), true
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// apportion divides limit slots by largest remainder of each member's
// share, then gives a slot to every member left without one, taken from the
// member most over its share, so no backend is left out of first place.
func apportion(tiers [][]uint32, n, limit int) []int {
	out := make([]int, 0, n)
	share := make([]float64, 0, n)
	used := 0
	for _, t := range tiers {
		var total float64
		for _, w := range t {
			total += float64(w)
		}
		for _, w := range t {
			q := float64(limit) * float64(len(t)) / float64(n) * float64(w) / total
			out = append(out, int(q))
			share = append(share, q)
			used += int(q)
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	// Largest remainder first; ties to the earlier member, so the result
	// depends on nothing but the input.
	frac := func(i int) float64 { return share[i] - float64(int(share[i])) }
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case frac(a) > frac(b):
			return -1
		case frac(a) < frac(b):
			return 1
		}
		return 0
	})
	for i := 0; used < limit; i++ {
		out[order[i%n]]++
		used++
	}
	for i := range out {
		if out[i] > 0 {
			continue
		}
		donor := -1
		for j, c := range out {
			if c > 1 && (donor < 0 || float64(c)-share[j] > float64(out[donor])-share[donor]) {
				donor = j
			}
		}
		out[donor]--
		out[i] = 1
	}
	return out
}

// Sequence lays the slots out by smooth weighted round robin (as nginx
// balances upstreams): each step every member's credit grows by its count,
// the member with the most credit (the earlier on a tie) takes the slot and
// pays the total. Member i holds exactly counts[i] of the sum(counts)
// slots, spread as evenly as the counts allow, so any run of consecutive
// slots is close to the shares as well.
func Sequence(counts []int) []int {
	total := 0
	for _, c := range counts {
		total += c
	}
	seq := make([]int, 0, total)
	credit := make([]int, len(counts))
	for range total {
		best := -1
		for i, c := range counts {
			credit[i] += c
			if best < 0 || credit[i] > credit[best] {
				best = i
			}
		}
		credit[best] -= total
		seq = append(seq, best)
	}
	return seq
}

// Windows returns the answer of every slot: the member in the slot, then
// the next distinct members as the sequence goes on (wrapping), up to size
// members, so heavier members are also in more answers. Answers that come
// out the same are returned once: rotations holds each distinct answer,
// slots the index of each slot's answer in it.
func Windows(seq []int, members, size int) (rotations [][]int, slots []uint16) {
	size = min(size, members)
	seen := make([]bool, members)
	ids := map[string]int{}
	var key strings.Builder
	slots = make([]uint16, len(seq))
	for s := range seq {
		w := make([]int, 0, size)
		for j := 0; len(w) < size && j < len(seq); j++ {
			m := seq[(s+j)%len(seq)]
			if !seen[m] {
				seen[m] = true
				w = append(w, m)
			}
		}
		key.Reset()
		for _, m := range w {
			seen[m] = false
			key.WriteString(strconv.Itoa(m))
			key.WriteByte(',')
		}
		id, ok := ids[key.String()]
		if !ok {
			id = len(rotations)
			ids[key.String()] = id
			rotations = append(rotations, w)
		}
		slots[s] = uint16(id)
	}
	return rotations, slots
}

// MaxSlots bounds Windows' slot indexes: slots are uint16.
const MaxSlots = 1 << 16

// Index maps a query counter to a slot of n. The counter goes through
// Fibonacci hashing (a Weyl sequence: counter × 2^32/φ), so consecutive
// queries land on slots spread evenly over the rotation, and any regular
// subsequence of the counter (every second query, when A and AAAA queries
// alternate on one counter) still visits every slot in proportion. The
// hash's top bits are scaled to n (Lemire's multiply-shift), without a
// division.
func Index(c uint32, n int) int {
	return int(uint64(c*0x9E3779B9) * uint64(n) >> 32)
}
