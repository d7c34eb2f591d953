package client

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func targets(prioWeight ...[2]uint16) []Target {
	var ts []Target
	for i, pw := range prioWeight {
		ts = append(ts, Target{Host: string(rune('a'+i)) + ".test.", Port: 80, Priority: pw[0], Weight: pw[1]})
	}
	return ts
}

// TestOrderPriorities: every target of a lower priority comes before any
// of a higher one, whatever the weights and the draw.
func TestOrderPriorities(t *testing.T) {
	ts := targets([2]uint16{3, 100}, [2]uint16{1, 0}, [2]uint16{2, 5}, [2]uint16{1, 7}, [2]uint16{3, 0}, [2]uint16{2, 1}, [2]uint16{1, 2})
	orig := slices.Clone(ts)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		got := Order(ts, r.IntN)
		if len(got) != len(ts) {
			t.Fatalf("Order returned %d targets, want %d", len(got), len(ts))
		}
		for j := 1; j < len(got); j++ {
			if got[j].Priority < got[j-1].Priority {
				t.Fatalf("draw %d: priority %d after %d: %v", i, got[j].Priority, got[j-1].Priority, got)
			}
		}
		if !sameTargets(got, ts) {
			t.Fatalf("draw %d: %v is not a permutation of %v", i, got, ts)
		}
	}
	if !slices.EqualFunc(ts, orig, func(a, b Target) bool { return a.Host == b.Host }) {
		t.Errorf("Order modified its input: %v", ts)
	}
}

// TestOrderWeights checks how often each target comes first over many
// draws from a fixed seed. The count of a target drawn first with
// probability p in N draws is binomial with standard deviation
// sqrt(N p (1-p)); allowing 5 of them means a correct ordering fails for
// fewer than one seed in a million, while a bias of one unit of weight
// (the RFC's inclusive draw without weight-0 targets) or weight-0 targets
// that never go first (the exclusive draw) is off by 20 deviations and more.
func TestOrderWeights(t *testing.T) {
	const n = 33000
	for _, tc := range []struct {
		name    string
		weights []uint16
		want    []float64 // probability of going first, per target
	}{
		// RFC: weight-0 targets have a small chance, 1 in sum+1.
		{"with a zero weight", []uint16{0, 1, 2, 3, 4}, []float64{1. / 11, 1. / 11, 2. / 11, 3. / 11, 4. / 11}},
		{"zero weight listed last", []uint16{4, 3, 2, 1, 0}, []float64{4. / 11, 3. / 11, 2. / 11, 1. / 11, 1. / 11}},
		// Without weight 0 the ratios are exact, whatever the list order.
		{"1:3", []uint16{1, 3}, []float64{1. / 4, 3. / 4}},
		{"3:1", []uint16{3, 1}, []float64{3. / 4, 1. / 4}},
		{"10:10:80", []uint16{10, 10, 80}, []float64{.1, .1, .8}},
		// All zero: uniformly random, so equal weights share load.
		{"all zero", []uint16{0, 0, 0}, []float64{1. / 3, 1. / 3, 1. / 3}},
		{"two zeros", []uint16{0, 0, 8}, []float64{1. / 18, 1. / 18, 8. / 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pw [][2]uint16
			for _, w := range tc.weights {
				pw = append(pw, [2]uint16{1, w})
			}
			ts := targets(pw...)
			r := rand.New(rand.NewPCG(42, 7))
			first := map[string]int{}
			for i := 0; i < n; i++ {
				first[Order(ts, r.IntN)[0].Host]++
			}
			for i, p := range tc.want {
				got := first[ts[i].Host]
				sd := math.Sqrt(n * p * (1 - p))
				if math.Abs(float64(got)-n*p) > 5*sd {
					t.Errorf("target %d (weight %d) first %d times in %d, want %.0f ± %.0f (p = %.4f)",
						i, tc.weights[i], got, n, n*p, 5*sd, p)
				}
			}
		})
	}
}

// TestOrderWeightsFullOrder checks the second place too: after the first
// pick the draw repeats over the rest, so with weights 1, 2, 7 the order
// (7, 2, 1) has probability 0.7 × 2/3.
func TestOrderWeightsFullOrder(t *testing.T) {
	const n = 60000
	ts := targets([2]uint16{1, 1}, [2]uint16{1, 2}, [2]uint16{1, 7})
	r := rand.New(rand.NewPCG(3, 4))
	orders := map[string]int{}
	for i := 0; i < n; i++ {
		var s string
		for _, x := range Order(ts, r.IntN) {
			s += x.Host[:1]
		}
		orders[s]++
	}
	w := map[byte]float64{'a': 1, 'b': 2, 'c': 7}
	for _, perm := range []string{"abc", "acb", "bac", "bca", "cab", "cba"} {
		p := w[perm[0]] / 10 * w[perm[1]] / (10 - w[perm[0]])
		sd := math.Sqrt(n * p * (1 - p))
		if got := orders[perm]; math.Abs(float64(got)-n*p) > 5*sd {
			t.Errorf("order %s: %d times in %d, want %.0f ± %.0f", perm, got, n, n*p, 5*sd)
		}
	}
}

func TestOrderEmptyAndSingle(t *testing.T) {
	if got := Order(nil, rand.IntN); len(got) != 0 {
		t.Errorf("Order(nil) = %v", got)
	}
	one := targets([2]uint16{5, 0})
	if got := Order(one, rand.IntN); len(got) != 1 || got[0].Host != one[0].Host {
		t.Errorf("Order(one) = %v", got)
	}
}

func sameTargets(a, b []Target) bool {
	key := func(ts []Target) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.String())
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}
