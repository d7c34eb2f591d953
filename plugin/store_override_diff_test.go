package hadns

import (
	"slices"
	"testing"
	"time"

	"github.com/hadns/hadns/internal/store"
	"github.com/hadns/hadns/internal/zone"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// twoServices is zonetest.SelZone with a second service, www, on other backends.
const twoServices = zonetest.SelZone + `  - name: www
    port: 80
    backends:
      - {address: 10.9.0.1, site: east}
      - {address: 10.9.0.2, site: west}
`

// TestStoreOverrideChangeRecomputesOnlyTouchedServices: a store override
// on one service's backend recomputes that service and leaves the other's
// answers as they were (the same precomputed set); one on a site touches
// every service with a backend there; the answers are right either way.
func TestStoreOverrideChangeRecomputesOnlyTouchedServices(t *testing.T) {
	e, h := storeEngine(t, twoServices, true)
	svc := func(name string) *zone.Service {
		for _, z := range e.snap.zones {
			for _, s := range z.Services() {
				if s.Name() == name {
					return s
				}
			}
		}
		t.Fatalf("no service %s", name)
		return nil
	}
	api, www := svc("api.example.test."), svc("www.example.test.")
	drain := func(sel store.Selector, at int64) store.Override {
		return store.Override{Action: "drain", Selector: sel, Created: time.Unix(at, 0)}
	}

	apiBefore, wwwBefore := api.Answers(), www.Answers()
	setView(e, &store.Snapshot{Revision: 2, Overrides: map[string]store.Override{
		"backend=10.9.0.1": drain(store.Selector{Backend: "10.9.0.1"}, 1),
	}}, true)
	if api.Answers() != apiBefore {
		t.Error("a drain of a www backend recomputed api")
	}
	if www.Answers() == wwwBefore {
		t.Error("a drain of a www backend did not recompute www")
	}
	if got := storeAddrs(t, h, "www.example.test."); slices.Contains(got, "10.9.0.1") {
		t.Errorf("www after the drain: %v", got)
	}

	// A site override, added to the one there: both services have east
	// backends.
	apiBefore, wwwBefore = api.Answers(), www.Answers()
	setView(e, &store.Snapshot{Revision: 3, Overrides: map[string]store.Override{
		"backend=10.9.0.1": drain(store.Selector{Backend: "10.9.0.1"}, 1),
		"site=east":        drain(store.Selector{Site: "east"}, 2),
	}}, true)
	if api.Answers() == apiBefore || www.Answers() == wwwBefore {
		t.Error("a site drain did not recompute both services")
	}
	if got := storeAddrs(t, h, "api.example.test."); slices.Contains(got, "10.1.0.1") || slices.Contains(got, "10.1.0.2") {
		t.Errorf("api with east drained: %v", got)
	}

	// The www drain cleared (removed from the store): www only.
	apiBefore, wwwBefore = api.Answers(), www.Answers()
	setView(e, &store.Snapshot{Revision: 4, Overrides: map[string]store.Override{
		"site=east": drain(store.Selector{Site: "east"}, 2),
	}}, true)
	if api.Answers() != apiBefore || www.Answers() == wwwBefore {
		t.Error("clearing a www backend's drain: want www recomputed, api not")
	}
	// Everything cleared: east is back in api's answers.
	setView(e, &store.Snapshot{Revision: 5}, true)
	if got := storeAddrs(t, h, "api.example.test."); !slices.Contains(got, "10.1.0.1") {
		t.Errorf("api after every clear: %v", got)
	}
}
