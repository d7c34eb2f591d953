package hadns

import (
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/store"
	"github.com/hadns/hadns/internal/zone"
)

// changedOverrides indexes the overrides that differ between two snapshots
// of the shared store (added, removed or rewritten), so a watch event that
// changes one override recomputes only the services it can touch instead
// of every service: a backend's effective override is chosen among the
// overrides that select it, so one that selects none of a service's
// backends cannot change that service's answers. nil when none changed.
func changedOverrides(prev, next map[string]store.Override) *overrideIndex {
	var list []adminapi.Override
	for id, o := range next {
		if p, ok := prev[id]; !ok || p != o {
			list = append(list, toAdmin(id, o))
		}
	}
	for id, o := range prev {
		if _, ok := next[id]; !ok {
			list = append(list, toAdmin(id, o))
		}
	}
	if len(list) == 0 {
		return nil
	}
	return indexOverrides(list)
}

// touches reports whether any override of x selects a backend of s,
// expired or not.
func (x *overrideIndex) touches(s *zone.Service) bool {
	for _, b := range s.Backends() {
		for _, key := range []string{b.Addr().String(), b.ID()} {
			for _, i := range x.byBackend[key] {
				if matches(x.list[i].Selector(), s.Name(), b) {
					return true
				}
			}
		}
		for _, i := range x.rest {
			if matches(x.list[i].Selector(), s.Name(), b) {
				return true
			}
		}
	}
	return false
}
