package hadns

import (
	"fmt"
	"slices"

	"github.com/hadns/hadns/internal/admin"
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/store"
	"github.com/hadns/hadns/internal/zone"
)

// sharedView is a shared store as the admin server sees it. A value
// holding the set, so the views of one set are equal.
type sharedView struct{ s *storeSet }

var _ admin.SharedStore = sharedView{}

// Shared is the engine's shared store; nil without a `store` line.
func (v adminView) Shared() admin.SharedStore {
	if v.e.st.set == nil {
		return nil
	}
	return sharedView{v.e.st.set}
}

// Status is the status document's store section.
func (v sharedView) Status() *adminapi.StoreStatus { return v.s.status() }

// Client is the running store, or an error when it is not started.
func (v sharedView) Client() (admin.StoreClient, error) {
	st, err := v.s.client()
	if err != nil {
		return nil, err // a nil interface, not a nil *store.Store in one
	}
	return st, nil
}

// CheckRegistration judges a registration's address, site and service as
// a zone file's backend would be.
func (v sharedView) CheckRegistration(service string, reg store.Registration) error {
	if _, err := zone.ValidAddr(reg.Address); err != nil {
		return err
	}
	if !validSiteName(reg.Site) {
		return fmt.Errorf("site %q: use letters, digits, - and _", reg.Site)
	}
	if !zone.ValidName(service) {
		return fmt.Errorf("service %q is not a domain name", service)
	}
	return nil
}

// status is the status document's store section for this set.
func (s *storeSet) status() *adminapi.StoreStatus {
	out := &adminapi.StoreStatus{Instance: s.cfg.Instance, Endpoints: s.cfg.Endpoints, Prefix: s.cfg.Prefix, Instances: []string{}}
	if out.Prefix == "" {
		out.Prefix = store.DefaultPrefix
	}
	snap := s.view.Load().snap
	if st, err := s.client(); err == nil {
		ss := st.Status()
		out.Connected, out.Revision, out.LagSeconds = ss.Connected, ss.Revision, ss.Lag.Seconds()
		out.LastContact, out.LastError, out.Stale, out.Relists = ss.LastContact, ss.LastError, ss.Stale, ss.Relists
	}
	out.Zones, out.Overrides = len(snap.Zones), len(snap.Overrides)
	for inst := range snap.Observations {
		out.Instances = append(out.Instances, inst)
	}
	for _, m := range []map[string]struct{}{keysOf(snap.Served), keysOf(snap.Instances)} {
		for inst := range m {
			if !slices.Contains(out.Instances, inst) {
				out.Instances = append(out.Instances, inst)
			}
		}
	}
	slices.Sort(out.Instances)
	if len(snap.Rejected) > 0 {
		out.Rejected = snap.Rejected
	}
	return out
}

// keysOf is the key set of m.
func keysOf[V any](m map[string]V) map[string]struct{} {
	out := make(map[string]struct{}, len(m))
	for k := range m {
		out[k] = struct{}{}
	}
	return out
}
