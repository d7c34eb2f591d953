package zone

import (
	"sync/atomic"
	"unsafe"
)

// Counter is a metric series an answer increments (a prometheus.Counter).
type Counter interface{ Inc() }

// Counters are the series an answer increments: queries answered, and,
// for a degraded answer, degraded answers. The plugin makes them on the
// answer's first query, not when it is computed: a series costs about a
// kilobyte, and a zone of 20,000 services has one per service and client
// site, most of them never asked for from every site.
type Counters struct{ Count, Degraded Counter }

// ctrSlot holds an answer's *Counters. The pointer is read and set with
// sync/atomic's functions rather than held in an atomic.Pointer, which may
// not be copied: answers are built as values and copied into place before
// they are published, and only then counted.
type ctrSlot struct{ p unsafe.Pointer }

// Counters returns the series the answer counts in, nil until SetCounters.
func (ra *ServiceAnswer) Counters() *Counters { return (*Counters)(atomic.LoadPointer(&ra.ctr.p)) }

// SetCounters gives the answer its series, unless a concurrent query did
// first, and returns the ones it has.
func (ra *ServiceAnswer) SetCounters(c *Counters) *Counters {
	atomic.CompareAndSwapPointer(&ra.ctr.p, nil, unsafe.Pointer(c))
	return ra.Counters()
}
