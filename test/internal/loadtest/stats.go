package loadtest

import (
	"slices"
	"time"
)

// Quantile is the nearest-rank quantile q (0..1) of ds; 0 for none. It
// sorts a copy, so ds keeps its order.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return nearestRank(s, q)
}

// QuantileSorted is Quantile for ds already sorted, without the copy.
func QuantileSorted(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return nearestRank(ds, q)
}

// nearestRank is the smallest value with at least q of the values at or
// below it: rank ceil(q*n), counted from 1.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	i := int(q*float64(n)+0.999999) - 1
	return sorted[min(max(i, 0), n-1)]
}

// Median is the middle of xs (the mean of the two middle values for an
// even count); 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// MedianDuration is Median for durations.
func MedianDuration(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(Median(xs))
}
