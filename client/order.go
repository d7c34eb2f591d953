package client

import (
	"cmp"
	"slices"
)

// Order returns the targets in the order RFC 2782 tells a client to try
// them: every target of a lower priority before any of a higher one, and
// within one priority a weighted random order. intN(n) returns a uniform
// random number in [0, n); with math/rand/v2 it is rand.IntN, or a seeded
// *rand.Rand's IntN. ts is not modified.
//
// Within a priority the RFC's selection is followed: weight-0 targets go
// first (in random order among themselves), a number n is drawn, and the
// first target whose running sum of weights reaches n is taken next;
// repeat with the rest. While weight-0 targets are left, n is drawn from
// [0, sum] as the RFC says, so they share a small chance, 1 in sum+1, of
// going next. Without them n is drawn from [1, sum]: the RFC's inclusive
// range would give the first target in the list one unit of weight extra
// (weights 1 and 3 would split 2:3 instead of 1:3). So targets with weight
// go next in exact proportion to their weights, and when every weight is 0
// the order is uniformly random.
func Order(ts []Target, intN func(n int) int) []Target {
	out := slices.Clone(ts)
	slices.SortStableFunc(out, func(a, b Target) int { return cmp.Compare(a.Priority, b.Priority) })
	for start := 0; start < len(out); {
		end := start + 1
		for end < len(out) && out[end].Priority == out[start].Priority {
			end++
		}
		orderWeighted(out[start:end], intN)
		start = end
	}
	return out
}

// orderWeighted orders one priority's targets in place.
func orderWeighted(ts []Target, intN func(n int) int) {
	// Weight-0 targets first, shuffled so they share load when all are 0.
	zeros := 0
	for i := range ts {
		if ts[i].Weight == 0 {
			ts[zeros], ts[i] = ts[i], ts[zeros]
			zeros++
		}
	}
	for i := zeros - 1; i > 0; i-- {
		j := intN(i + 1)
		ts[i], ts[j] = ts[j], ts[i]
	}
	sum := 0
	for _, t := range ts {
		sum += int(t.Weight)
	}
	for len(ts) > 1 {
		var n int
		if ts[0].Weight == 0 {
			n = intN(sum + 1) // [0, sum]: 0 picks the first weight-0 target
		} else {
			n = 1 + intN(sum) // [1, sum]
		}
		running := 0
		pick := len(ts) - 1
		for i, t := range ts {
			running += int(t.Weight)
			if running >= n {
				pick = i
				break
			}
		}
		// Move the pick to the front, keeping the rest in their order so
		// weight-0 targets stay at the beginning of what is left.
		chosen := ts[pick]
		copy(ts[1:pick+1], ts[:pick])
		ts[0] = chosen
		sum -= int(chosen.Weight)
		ts = ts[1:]
	}
}
