package admin

import (
	"sort"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
)

// Status describes every zone of the engines, the newest engine (the last)
// winning when two serve the same zone (during a Corefile reload), and
// every override of their stores with the backends it selects.
func Status(engines []Engine, now time.Time) adminapi.Status {
	doc := adminapi.Status{Time: now.UTC(), Ready: true, Zones: []adminapi.ZoneStatus{}, Overrides: []adminapi.OverrideStatus{}}
	seen := map[string]bool{}
	matched := map[string][]string{}  // override ID → SERVICE/ID
	effectiveIDs := map[string]bool{} // override IDs that hold for some backend
	var overrides []adminapi.Override
	stores := map[OverrideStore]bool{}
	if len(engines) > 0 {
		doc.Checker = engines[0].Checker()
	}
	for i := len(engines) - 1; i >= 0; i-- {
		e := engines[i]
		if s := e.Store(); !stores[s] {
			stores[s] = true
			overrides = append(overrides, s.All()...)
		}
		es, ok := e.Status(now, func(zone string) bool { return seen[zone] })
		if !ok {
			continue
		}
		doc.Ready = doc.Ready && es.Ready
		for _, zs := range es.Zones {
			seen[zs.Zone] = true
			for _, s := range zs.Services {
				for _, b := range s.Backends {
					if b.Override != nil {
						effectiveIDs[b.Override.ID] = true
					}
				}
			}
			doc.Zones = append(doc.Zones, zs)
		}
		for id, m := range es.Matched {
			matched[id] = append(matched[id], m...)
		}
	}
	sort.Slice(doc.Zones, func(i, j int) bool { return doc.Zones[i].Zone < doc.Zones[j].Zone })
	for _, o := range overrides {
		m := matched[o.ID]
		if m == nil {
			m = []string{}
		}
		doc.Overrides = append(doc.Overrides, adminapi.OverrideStatus{Override: o, Matched: m, Unmatched: len(m) == 0, Effective: effectiveIDs[o.ID]})
	}
	doc.Store = storeStatus(engines)
	return doc
}
