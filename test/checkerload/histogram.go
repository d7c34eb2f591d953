package main

import (
	"sync/atomic"
	"time"
)

// histogram counts durations in 10µs buckets up to 1s (and one overflow
// bucket), lock-free, so recording from every probe loop costs one atomic
// add and the run's memory does not grow with its length.
type histogram struct {
	buckets [100001]atomic.Int64
	maxNs   atomic.Int64
}

const bucketWidth = 10 * time.Microsecond

func newHistogram() *histogram { return &histogram{} }

func (h *histogram) add(d time.Duration) {
	d = max(d, 0)
	i := min(int(d/bucketWidth), len(h.buckets)-1)
	h.buckets[i].Add(1)
	for {
		m := h.maxNs.Load()
		if int64(d) <= m || h.maxNs.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

func (h *histogram) reset() {
	for i := range h.buckets {
		h.buckets[i].Store(0)
	}
	h.maxNs.Store(0)
}

func (h *histogram) count() int64 {
	var n int64
	for i := range h.buckets {
		n += h.buckets[i].Load()
	}
	return n
}

func (h *histogram) max() time.Duration { return time.Duration(h.maxNs.Load()) }

// quantile returns the upper edge of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	want := int64(q * float64(total))
	var seen int64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen > want {
			return time.Duration(i+1) * bucketWidth
		}
	}
	return h.max()
}
