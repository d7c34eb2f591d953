package hadns

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/store"
	"github.com/hadns/hadns/internal/zone"
)

// engineStore is an engine's part of the shared store: where its zones come
// from besides files, and the last good version of each store zone.
type engineStore struct {
	set   *storeSet
	files *snapshot            // the file zones last installed, before the store's were added
	zones map[string]storeZone // origin → last good store zone as built
	// built caches file zones rebuilt with registered backends.
	built  map[*zone.Zone]storeZone
	logged map[string]string // key → last message, so each is logged once
}

// storeZone is a zone built from a store document (or a file zone rebuilt
// with registrations), with what it was built from.
type storeZone struct {
	modRev int64
	regs   string // the registrations it holds, as a signature
	zone   *zone.Zone
}

// storeZonePath is what a store zone's errors and status name as its file.
func storeZonePath(origin string) string { return "etcd:zones/" + origin }

// overrideSource is where e's overrides live: the shared store when the
// block has a `store` line, else the state file.
func (e *engine) overrideSource() overrideStore {
	if e.cfg.store == nil {
		return e.ops.store(e, e.cfg.state)
	}
	e.st.set = e.ops.storeSet(e, e.cfg.store)
	return e.st.set
}

// validateStoreZone is the store's ValidateFunc: a document is accepted
// when it loads as a zone file does (`hadns check`) and its origin is the
// key's.
func validateStoreZone(origin string, doc []byte) error {
	z, err := zone.ParseWithBackends(storeZonePath(store.CanonicalOrigin(origin)), doc, time.Unix(1, 0), nil)
	if err != nil {
		return err
	}
	if z.Origin() != store.CanonicalOrigin(origin) {
		return fmt.Errorf("the document's origin %s is not the key's %s", z.Origin(), store.CanonicalOrigin(origin))
	}
	return nil
}

// startStore starts the shared store (the first engine to start does) and
// waits a bounded time for its first snapshot, so an instance starting
// with etcd up, or down with a saved copy, answers for store zones at once.
func (e *engine) startStore() error {
	if e.st.set == nil {
		return nil
	}
	if err := e.st.set.start(e); err != nil {
		return err
	}
	if !e.st.set.waitFirst(e.cfg.startupTimeout) {
		log.Warningf("store: no data from etcd nor a saved copy after %v; serving the file zones, store zones follow when etcd answers", e.cfg.startupTimeout)
	}
	e.mu.Lock()
	if e.st.files != nil {
		e.installLocked(e.withStore(e.st.files))
	}
	e.mu.Unlock()
	e.publishAll()
	return nil
}

// stopStore leaves the shared store; the last engine out closes it.
func (e *engine) stopStore() {
	if e.st.set != nil {
		e.st.set.release(e)
	}
}

// storeChanged applies a new store view: zones and registrations are
// rebuilt and installed as after a reload; overrides, peers' observations
// and the connection state only recompute answers.
func (e *engine) storeChanged(prev, v *storeView) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.snap == nil || e.st.files == nil {
		return
	}
	if !sameMap(prev.snap.Zones, v.snap.Zones) || !sameMap(prev.snap.Registrations, v.snap.Registrations) {
		e.installLocked(e.withStore(e.st.files))
		return
	}
	var changed *overrideIndex
	if !sameMap(prev.snap.Overrides, v.snap.Overrides) {
		changed = changedOverrides(prev.snap.Overrides, v.snap.Overrides)
	}
	quorum := prev.connected != v.connected || !sameMap(prev.snap.Observations, v.snap.Observations)
	for _, z := range e.snap.zones {
		for _, s := range z.Services() {
			if quorum && s.Quorum() > 0 || changed != nil && changed.touches(s) {
				e.recompute(s, e.snap)
			}
		}
	}
}

// logOnce logs msg for key unless it was the last message logged for key.
func (e *engine) logOnce(key, msg string, errorLevel bool) {
	if e.st.logged == nil {
		e.st.logged = map[string]string{}
	}
	if e.st.logged[key] == msg {
		return
	}
	e.st.logged[key] = msg
	if errorLevel {
		log.Error(msg)
	} else {
		log.Info(msg)
	}
}

// withStore returns files with the store's zones added and registered
// backends joined to their services. A file zone wins over a store zone of
// the same origin. A store zone that does not build here (a site the
// Corefile does not define) keeps its previous good version; a
// registration that does not fit its service is left out. Called with
// e.mu held (or before the engine is shared).
func (e *engine) withStore(files *snapshot) *snapshot {
	e.st.files = files
	if e.st.set == nil {
		return files
	}
	snap := e.st.set.view.Load().snap
	regs := e.registrations(snap)
	zones := make(map[string]*zone.Zone, len(files.zones)+len(snap.Zones))
	for origin, z := range files.zones {
		zones[origin] = e.rebuildFileZone(z, regs)
	}
	if e.st.zones == nil {
		e.st.zones = map[string]storeZone{}
	}
	for origin, doc := range snap.Zones {
		if _, ok := files.zones[origin]; ok {
			e.logOnce("shadow/"+origin, fmt.Sprintf("store: zone %s is also a zone file here; the file wins and the store's version is not served", origin), false)
			continue
		}
		if !originServed(origin, e.cfg.origins) {
			e.logOnce("outside/"+origin, fmt.Sprintf("store: zone %s is not inside this server block's zones (%s); not served here", origin, strings.Join(e.cfg.origins, " ")), false)
			continue
		}
		sig := regSignature(regs, origin)
		prev, ok := e.st.zones[origin]
		if ok && prev.modRev == doc.ModRevision && prev.regs == sig {
			zones[origin] = prev.zone
			continue
		}
		z, err := e.buildStoreZone(origin, doc, regs)
		if err != nil {
			storeRejected.WithLabelValues("zone").Inc()
			e.logOnce("zone/"+origin, fmt.Sprintf("store: zone %s (revision %d) refused, still serving the previous version: %v", origin, doc.ModRevision, err), true)
			if ok {
				zones[origin] = prev.zone
			}
			continue
		}
		e.st.zones[origin] = storeZone{modRev: doc.ModRevision, regs: sig, zone: z}
		zones[origin] = z
	}
	for origin := range e.st.zones {
		if _, ok := snap.Zones[origin]; !ok {
			delete(e.st.zones, origin) // deleted from the store
		}
	}
	var backendSites []string
	for _, z := range zones {
		for _, s := range z.Services() {
			for _, b := range s.Backends() {
				if !slices.Contains(backendSites, b.Site()) {
					backendSites = append(backendSites, b.Site())
				}
			}
		}
	}
	st := files.sites
	if len(e.cfg.sites) == 0 {
		t, err := sites.New(nil, e.cfg.defaultOrder, e.cfg.defaultOrderAt, backendSites)
		if err != nil {
			e.logOnce("sites", fmt.Sprintf("store: the sites of the store's zones do not fit the Corefile, serving the file zones only: %v", err), true)
			return files
		}
		st = t
	}
	return &snapshot{zones: zones, sites: st}
}

// buildStoreZone builds a store document with its registrations, checking
// its sites against the Corefile's as a zone file's are.
func (e *engine) buildStoreZone(origin string, doc store.Zone, regs map[string][]zone.BackendConfig) (*zone.Zone, error) {
	path := storeZonePath(origin)
	mtime := time.Unix(doc.ModRevision, 0) // default serial: the revision, which only grows
	z, err := zone.ParseWithBackends(path, doc.Doc, mtime, regsUnder(regs, origin))
	if err != nil {
		// Maybe a registration does not fit: serve the zone without them.
		var rerr error
		if z, rerr = zone.ParseWithBackends(path, doc.Doc, mtime, nil); rerr != nil {
			return nil, rerr
		}
		e.logOnce("regs/"+origin, fmt.Sprintf("store: registered backends of zone %s left out: %v", origin, err), true)
	}
	if z.Origin() != origin {
		return nil, fmt.Errorf("the document's origin %s is not the key's", z.Origin())
	}
	if err := e.checkSites(z); err != nil {
		return nil, err
	}
	return z, nil
}

// checkSites refuses a zone whose backends name a site no site line
// defines (only when the Corefile has site lines), as load does for files.
func (e *engine) checkSites(z *zone.Zone) error {
	if len(e.cfg.sites) == 0 {
		return nil
	}
	var errs fileerr.ErrorList
	for _, s := range z.Services() {
		for _, b := range s.Backends() {
			if !slices.ContainsFunc(e.cfg.sites, func(sc sites.Config) bool { return sc.Name == b.Site() }) {
				errs = append(errs, fileerr.FileError{File: z.File(), Line: b.Line(), Msg: fmt.Sprintf("service %s: backend %s names site %q, which no site line in the Corefile defines", s.Name(), b.ID(), b.Site())})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// rebuildFileZone returns z with the registered backends of its services
// added; z itself when none is registered.
func (e *engine) rebuildFileZone(z *zone.Zone, regs map[string][]zone.BackendConfig) *zone.Zone {
	sig := regSignature(regs, z.Origin())
	src, mtime := z.Source()
	if sig == "" || src == nil {
		return z
	}
	if e.st.built == nil {
		e.st.built = map[*zone.Zone]storeZone{}
	}
	if b, ok := e.st.built[z]; ok && b.regs == sig {
		return b.zone
	}
	nz, err := zone.ParseWithBackends(z.File(), src, mtime, regsUnder(regs, z.Origin()))
	if err == nil {
		err = e.checkSites(nz)
	}
	if err != nil {
		storeRejected.WithLabelValues("registration").Inc()
		e.logOnce("regs/"+z.Origin(), fmt.Sprintf("store: registered backends of zone %s left out: %v", z.Origin(), err), true)
		return z
	}
	// Only the current version of each file zone is worth keeping.
	for old := range e.st.built {
		if old.Origin() == z.Origin() && old != z {
			delete(e.st.built, old)
		}
	}
	e.st.built[z] = storeZone{regs: sig, zone: nz}
	return nz
}

// registrations turns the snapshot's registrations into zone file backends
// by absolute service name, leaving out (and logging once) the ones that
// cannot be a backend.
func (e *engine) registrations(snap *store.Snapshot) map[string][]zone.BackendConfig {
	out := map[string][]zone.BackendConfig{}
	for svc, m := range snap.Registrations {
		name := dns.CanonicalName(svc)
		ids := slices.Sorted(maps.Keys(m))
		for _, id := range ids {
			r := m[id]
			if err := e.checkRegistration(r); err != nil {
				storeRejected.WithLabelValues("registration").Inc()
				e.logOnce("reg/"+svc+"/"+id, fmt.Sprintf("store: registration %s/%s left out: %v", svc, id, err), true)
				continue
			}
			out[name] = append(out[name], zone.BackendConfig{Address: r.Address, Port: r.Port, Site: r.Site, Weight: r.Weight, Hostname: r.Hostname})
		}
	}
	return out
}

// checkRegistration is what can be told of a registration without its
// service: an address, a site, and a site the Corefile defines.
func (e *engine) checkRegistration(r store.Registration) error {
	if _, err := zone.ValidAddr(r.Address); err != nil {
		return err
	}
	if r.Site == "" {
		return fmt.Errorf("no site")
	}
	if len(e.cfg.sites) > 0 && !slices.ContainsFunc(e.cfg.sites, func(sc sites.Config) bool { return sc.Name == r.Site }) {
		return fmt.Errorf("site %q is not defined by a site line in the Corefile", r.Site)
	}
	return nil
}

// regsUnder picks the registrations of services inside origin.
func regsUnder(regs map[string][]zone.BackendConfig, origin string) map[string][]zone.BackendConfig {
	out := map[string][]zone.BackendConfig{}
	for name, bs := range regs {
		if dns.IsSubDomain(origin, name) {
			out[name] = bs
		}
	}
	return out
}

// regSignature names the registrations inside origin; "" when none.
func regSignature(regs map[string][]zone.BackendConfig, origin string) string {
	var parts []string
	for name, bs := range regs {
		if !dns.IsSubDomain(origin, name) {
			continue
		}
		for _, b := range bs {
			j, _ := json.Marshal(struct {
				N string
				A string
				P uint16
				S string
				W *uint16
				H string
			}{name, b.Address, b.Port, b.Site, b.Weight, b.Hostname})
			parts = append(parts, string(j))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}
