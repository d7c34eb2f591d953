package hadns

import (
	"slices"
	"sync"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/admin"
	"github.com/hadns/hadns/internal/ops"
)

// operations is what the engines of one process share for operating them:
// override stores by state file, the drain tracker and the admin servers by
// address. Like the checker pool it outlives any one engine, because a
// Corefile reload starts the new plugin instance before stopping the old.
type operations struct {
	clock  healthcheck.Clock
	drains *drainTracker

	admins *admin.Servers // by listen address

	mu     sync.Mutex
	stores map[string]storeEntry // by state file path; "" is memory only
	sets   map[string]*storeSet  // shared stores by configuration (store.go)
}

func newOperations(clock healthcheck.Clock) *operations {
	if clock == nil {
		clock = healthcheck.SystemClock{}
	}
	return &operations{
		clock:  clock,
		drains: newDrainTracker(clock.Now()),
		stores: map[string]storeEntry{},
		admins: admin.NewServers(admin.Options{Clock: clock, Log: log, OnRejectedConn: adminRejectedConns.Inc}),
	}
}

// store returns the override store of a state file, loading it the first
// time (for engine e); later calls (a Corefile reload) get the same overrides.
func (o *operations) store(e *engine, path string) *ops.Store {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.stores[path]
	if !ok {
		s = storeEntry{ops.NewStore(path, o.clock, log), e}
		o.stores[path] = s
	}
	return s.store
}

// storeEntry is an override store and the engine whose set-up loaded it.
type storeEntry struct {
	store  *ops.Store
	madeBy *engine
}

// dropStores forgets the stores that one of the engines in gone loaded and
// no engine uses: a reload that failed leaves the stores as they were.
func (o *operations) dropStores(gone []*engine) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for path, s := range o.stores {
		if slices.Contains(gone, s.madeBy) && !s.store.Used() {
			delete(o.stores, path)
		}
	}
}
