package hadns

import (
	"strings"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/zone"
)

// overrideIndex finds the overrides that may select a backend without
// matching every override against it: with a thousand overrides over ten
// thousand backends, the linear effective costs ten million selector
// matches per pass, and a pass runs on every override change (each watch
// event from the shared store) and every second for the served records.
// Backend selectors are looked up by the address or ID they name; site and
// glob selectors, usually few, are matched one by one.
type overrideIndex struct {
	list      []adminapi.Override
	byBackend map[string][]int // backend selector (without its SERVICE/ part) → indexes in list
	rest      []int            // site and glob selectors
}

func indexOverrides(list []adminapi.Override) *overrideIndex {
	x := &overrideIndex{list: list, byBackend: make(map[string][]int, len(list))}
	for i := range list {
		if b := list[i].Backend; b != "" {
			if j := strings.LastIndexByte(b, '/'); j >= 0 {
				b = b[j+1:]
			}
			x.byBackend[b] = append(x.byBackend[b], i)
			continue
		}
		x.rest = append(x.rest, i)
	}
	return x
}

// effective is effective(x.list, svc, b, now), the same choice: the most
// specific, then the most recent, then the first in the list.
func (x *overrideIndex) effective(svc string, b *zone.Backend, now time.Time) *adminapi.Override {
	if len(x.list) == 0 {
		return nil
	}
	best := -1
	consider := func(i int) {
		o := &x.list[i]
		if !o.Expires.IsZero() && !o.Expires.After(now) || !matches(o.Selector(), svc, b) {
			return
		}
		if best < 0 {
			best = i
			return
		}
		cur := &x.list[best]
		s, cs := o.Selector().Specificity(), cur.Selector().Specificity()
		if s > cs || s == cs && (o.At.After(cur.At) || o.At.Equal(cur.At) && i < best) {
			best = i
		}
	}
	addr := b.Addr().String()
	for _, i := range x.byBackend[addr] {
		consider(i)
	}
	if b.Port() != 0 {
		for _, i := range x.byBackend[b.ID()] {
			consider(i)
		}
	}
	for _, i := range x.rest {
		consider(i)
	}
	if best < 0 {
		return nil
	}
	return &x.list[best]
}
