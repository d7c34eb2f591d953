package admin

import (
	"context"
	"slices"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/store"
)

// SharedStore is the nameserver set's shared store (etcd) as the admin
// server sees it: its status, its client once running, and the rules a
// registration must follow, which are the zones' rules for a backend and
// so decided where the zones are. Implementations must be comparable,
// equal only for the same store.
type SharedStore interface {
	// Status is the status document's store section.
	Status() *adminapi.StoreStatus
	// Client is the running store, or an error saying why there is none
	// (not started yet).
	Client() (StoreClient, error)
	// CheckRegistration judges the address, site and service name of a
	// registration for service, as a backend of a zone file is judged.
	CheckRegistration(service string, reg store.Registration) error
}

// StoreClient is what the API does with the shared store: zone documents
// and registrations. *store.Store is one.
type StoreClient interface {
	GetZone(ctx context.Context, origin string) (doc []byte, ok bool, err error)
	// PutZone validates doc and writes it; a refusal wraps
	// store.ErrInvalidZone.
	PutZone(ctx context.Context, origin string, doc []byte) (revision int64, err error)
	DeleteZone(ctx context.Context, origin string) error
	RegisterLease(ctx context.Context, service, backend string, reg store.Registration, ttl time.Duration) error
	Deregister(ctx context.Context, service, backend string) error
}

var _ StoreClient = (*store.Store)(nil)

// storeTimeout bounds one request to etcd: a store that is away makes the
// request fail, it never hangs it.
const storeTimeout = 10 * time.Second

// sharedOf returns the distinct shared stores of engines, oldest engine's
// first.
func sharedOf(engines []Engine) []SharedStore {
	var out []SharedStore
	for _, e := range engines {
		if s := e.Shared(); s != nil && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// storeStatus is the status document's store section: the oldest engine's
// shared store's (during a reload both usually share one); nil without one.
func storeStatus(engines []Engine) *adminapi.StoreStatus {
	shared := sharedOf(engines)
	if len(shared) == 0 {
		return nil
	}
	return shared[0].Status()
}
