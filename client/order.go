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
// Within a priority the RFC's selection is followed exactly: weight-0
// targets go first (in random order among themselves), a number is drawn
// uniformly from [0, sum of weights] inclusive, and the first target whose
// running sum reaches it is taken next; repeat with the rest. So a weight-0
// target has a small chance (1 in sum+1) of going first when others have
// weight, and when every weight is 0 the order is uniformly random.
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
		n := intN(sum + 1) // [0, sum], inclusive as the RFC says
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
