package hadns

import (
	"slices"
	"sync"

	"github.com/hadns/hadns/healthcheck"
)

// operations is what the engines of one process share for operating them:
// override stores by state file, the drain tracker and the admin servers by
// address. Like the checker pool it outlives any one engine, because a
// Corefile reload starts the new plugin instance before stopping the old.
type operations struct {
	clock  healthcheck.Clock
	drains *drainTracker

	mu     sync.Mutex
	stores map[string]*overrideStore // by state file path; "" is memory only
	admins map[string]*adminServer   // by listen address
}

func newOperations(clock healthcheck.Clock) *operations {
	if clock == nil {
		clock = healthcheck.SystemClock{}
	}
	return &operations{
		clock:  clock,
		drains: newDrainTracker(clock.Now()),
		stores: map[string]*overrideStore{},
		admins: map[string]*adminServer{},
	}
}

// store returns the override store of a state file, loading it the first
// time (for engine e); later calls (a Corefile reload) get the same overrides.
func (o *operations) store(e *engine, path string) *overrideStore {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.stores[path]
	if !ok {
		s = newOverrideStore(path, o.clock)
		s.madeBy = e
		o.stores[path] = s
	}
	return s
}

// dropStores forgets the stores that one of the engines in gone loaded and
// no engine uses: a reload that failed leaves the stores as they were.
func (o *operations) dropStores(gone []*engine) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for path, s := range o.stores {
		if slices.Contains(gone, s.madeBy) && !s.used() {
			delete(o.stores, path)
		}
	}
}
