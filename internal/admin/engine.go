package admin

import (
	"time"

	"github.com/hadns/hadns/internal/adminapi"
)

// OverrideStore is where an engine's overrides live and where the API
// writes them: the state file's store (internal/ops) or the nameserver
// set's shared store. Implementations must be comparable, equal only for
// the same store (engines sharing one are told apart by ==). Clear and
// Delete report ops.ErrNoMatch when nothing matched.
type OverrideStore interface {
	All() []adminapi.Override
	Set(o adminapi.Override) (stored adminapi.Override, replaced *adminapi.Override, err error)
	Clear(sel adminapi.Selector, only, by string) ([]adminapi.Override, error)
	Delete(id, by string) ([]adminapi.Override, error)
}

// Engine is one hadns block as the admin server sees it: the zones it
// serves, described for the status document, and the override store it
// folds into its answers. Engines are compared with ==, so an
// implementation must be comparable and equal only to itself (a pointer,
// or a struct holding one).
type Engine interface {
	// Store is the override store the engine's answers follow. Engines
	// that share a state file or a shared store share the store.
	Store() OverrideStore
	// Shared is the nameserver set's shared store the engine serves from,
	// or nil without a `store` line (a nil interface, not a nil pointer
	// in one). Engines that use the same shared store return equal values.
	Shared() SharedStore
	// Checker describes the health checker the engine reads.
	Checker() adminapi.CheckerStatus
	// Match lists, as SERVICE/ID, every backend that sel picks in the
	// zones the engine serves now.
	Match(sel adminapi.Selector) []string
	// Status describes the zones the engine serves now, except those skip
	// reports (a newer engine serves them), sorted by origin. It reports
	// false when the engine has no zones loaded yet.
	Status(now time.Time, skip func(zone string) bool) (EngineStatus, bool)
}

// EngineStatus is what one engine adds to the status document.
type EngineStatus struct {
	// Ready is the engine's own readiness.
	Ready bool
	// Zones are the zones described, sorted by origin; a backend's
	// Override is the one that holds for it.
	Zones []adminapi.ZoneStatus
	// Matched maps the ID of each override of the engine's store to the
	// SERVICE/ID of every backend of Zones it selects, in zone, service
	// and backend order.
	Matched map[string][]string
}
