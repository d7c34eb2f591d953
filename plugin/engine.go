package hadns

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/fileerr"
	"github.com/hadns/hadns/internal/zone"
)

// engine owns what changes behind the query path: the loaded zones, the
// answers computed from health, and the reload loop. Every change builds new
// answers and publishes them atomically; ServeDNS never waits for it.
type engine struct {
	h       *Hadns
	cfg     *config
	pool    *checkerPool
	checker *healthcheck.Checker  // the pool's checker, read for states
	targets []*healthcheck.Target // what this engine wants checked: its backends' own, not copies
	started bool
	// serving is set once the engine's instance serves (see checkerPool.made);
	// until then it publishes no gauges and records no drains, so an instance
	// that a failed reload drops leaves no trace. Guarded by mu.
	serving bool
	ops     *operations
	store   overrideStore // the overrides folded into health: the state file's or the shared store's
	st      engineStore   // the shared store's zones and registrations (store_zones.go)
	// byKey maps a check target to the services whose answers depend on it,
	// so a transition recomputes only those.
	byKey map[string][]*zone.Service
	// sourced interns the checks probe_source gave a source (probesource.go).
	sourced healthcheck.Specs

	mu    sync.Mutex // serialises rebuilds: reloads and health changes
	snap  *snapshot
	watch zoneWatch // the zone files' versions, for the reload loop

	cancel context.CancelFunc
	done   chan struct{}
}

func newEngine(h *Hadns, cfg *config, snap *snapshot, pool *checkerPool) *engine {
	e := &engine{h: h, cfg: cfg, pool: pool, checker: pool.current(), ops: pool.ops}
	h.dnssec = cfg.dnssec
	h.pool.Store(pool)
	e.store = e.overrideSource()
	if stats, err := statFiles(cfg); err == nil {
		e.watch.settled = readFiles(stats)
		e.watch.settled.data = nil
	}
	e.watch.fromFiles = &snapshot{zones: maps.Clone(snap.zones), sites: snap.sites}
	pool.add(e)
	e.install(snap)
	return e
}

// install hands the checker the targets of snap (once started), computes
// answers for every service and publishes it. Unchanged targets keep their
// state (the checker matches them by key), so a reload causes no transition.
func (e *engine) install(snap *snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.installLocked(e.withStore(snap))
}

// installLocked is install of a snapshot that already holds the store's
// zones, with e.mu held.
func (e *engine) installLocked(snap *snapshot) {
	byKey := map[string][]*zone.Service{}
	var targets []*healthcheck.Target
	for _, z := range snap.zones {
		for _, s := range z.Services() {
			for _, b := range s.Backends() {
				e.applyProbeSource(b)
				k := b.Check().Key()
				if len(byKey[k]) == 0 {
					targets = append(targets, b.Check())
				}
				if !slices.Contains(byKey[k], s) {
					byKey[k] = append(byKey[k], s)
				}
			}
		}
	}
	e.targets = targets
	if e.started {
		e.pool.update(e, targets)
	}
	e.byKey = byKey
	// Registered before its gauges are set: the series of what snap no
	// longer has are deleted now, and none of snap's can be.
	liveSeries.set(e, snap)
	e.signZones(snap)
	for _, z := range snap.zones {
		for _, s := range z.Services() {
			e.recompute(s, snap)
		}
	}
	if e.serving {
		setBudgetGauges(snap)
	}
	old := e.snap
	e.snap = snap
	e.h.snap.Store(snap)
	if old != nil && e.serving {
		e.retire(old)
	}
	e.ops.drains.Prune(e.ops.clock.Now(), liveSeries.drainKeys())
}

// promote marks the engine serving and publishes its gauges.
func (e *engine) promote() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.serving || e.snap == nil {
		return
	}
	e.serving = true
	for _, z := range e.snap.zones {
		for _, s := range z.Services() {
			e.recompute(s, e.snap)
		}
	}
	setBudgetGauges(e.snap)
}

// retire records that the answers of snap's services are no longer served.
func (e *engine) retire(snap *snapshot) {
	now := e.ops.clock.Now()
	for _, z := range snap.zones {
		for _, s := range z.Services() {
			e.ops.drains.replaced(now, s, s.Answers())
		}
	}
}

// recompute rebuilds one service's answers from current health with the
// operator's overrides folded in, and notes for drain_safe_at until when the
// answers it replaces may be cached.
func (e *engine) recompute(s *zone.Service, snap *snapshot) {
	now := e.ops.clock.Now()
	overrides := indexOverrides(e.store.All())
	h := make([]zone.Health, len(s.Backends()))
	held := make([]*adminapi.Override, len(s.Backends()))
	for i, b := range s.Backends() {
		held[i] = overrides.effective(s.Name(), b, now)
		h[i] = fold(e.backendHealth(s, b), held[i])
	}
	set := zone.ComputeAnswers(s, h, snap.sites.Orders())
	e.signAnswers(s, set, snap)
	old := s.SetAnswers(set)
	if !e.serving {
		return
	}
	e.ops.drains.replaced(now, s, old)
	setBackendGauges(s, h)
	setOverrideGauges(s, held, set, e.ops.drains)
}

// OverridesChanged recomputes every service: an override may select
// backends anywhere.
func (e *engine) OverridesChanged() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.snap == nil {
		return
	}
	for _, z := range e.snap.zones {
		for _, s := range z.Services() {
			e.recompute(s, e.snap)
		}
	}
}

// fromState maps the checker's state to selection's view: a target not yet
// checked counts as healthy, as DESIGN.md asks.
func fromState(st healthcheck.State) zone.Health {
	switch st {
	case healthcheck.Suspect:
		return zone.Suspect
	case healthcheck.Down:
		return zone.Down
	}
	return zone.Healthy
}

func (e *engine) start() error {
	if e.cfg.admin != nil {
		if err := e.ops.admins.Register(adminView{e}, e.cfg.admin); err != nil {
			return err
		}
	}
	e.store.Attach(e)
	if err := e.startStore(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan struct{})
	e.mu.Lock()
	c := e.pool.acquire(e, e.targets)
	e.started = true
	sub := c.Subscribe()
	serving := e.pool.servesAtStart(e)
	// install read states from the pool's checker of that moment; only if
	// the pool has since made a new one are the answers stale.
	if c != e.checker {
		e.checker = c
		for _, z := range e.snap.zones {
			for _, s := range z.Services() {
				e.recompute(s, e.snap)
			}
		}
	}
	e.mu.Unlock()
	if serving {
		e.promote()
	}
	// Overrides may have changed between install and attach.
	e.OverridesChanged()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		e.signLoop(ctx.Done())
	}()
	go func() {
		defer wg.Done()
		e.reloadLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		defer sub.Close()
		e.healthLoop(ctx, sub)
	}()
	go func() {
		wg.Wait()
		close(e.done)
	}()
	return nil
}

// healthLoop applies transitions as they come, and marks the server ready
// once every target has a first result or the start-up timeout passed.
func (e *engine) healthLoop(ctx context.Context, sub *healthcheck.Subscription) {
	startup := time.NewTimer(e.cfg.startupTimeout)
	defer startup.Stop()
	e.checkReady()
	for {
		select {
		case <-ctx.Done():
			return
		case <-startup.C:
			if !e.h.ready.Load() {
				log.Warningf("not every health check has a result after %v; serving anyway (unchecked backends count as healthy)", e.cfg.startupTimeout)
				e.h.ready.Store(true)
			}
		case <-sub.C():
			e.apply(sub.Events())
			e.checkReady()
		}
	}
}

func (e *engine) checkReady() {
	if !e.h.ready.Load() && e.checker.Ready() {
		e.h.ready.Store(true)
		log.Infof("every health check has a first result: ready")
	}
}

// apply recomputes the services that the events touch, once each, and logs
// one line per transition per service backend.
func (e *engine) apply(events []healthcheck.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	touched := map[*zone.Service]bool{}
	for _, ev := range events {
		if ev.Removed {
			// No engine checks it any more; an engine being replaced may
			// still map it, and its answers are about to go.
			continue
		}
		for _, s := range e.byKey[ev.Key] {
			touched[s] = true
			for _, b := range s.Backends() {
				if b.Check().Key() != ev.Key {
					continue
				}
				log.Infof("health: service %s backend %s site %s: %s -> %s (%s)", s.Name(), b.ID(), b.Site(), ev.Old, ev.New, ev.Reason)
				countTransition(s, b, ev.New)
			}
		}
	}
	e.publishObservations(events)
	for s := range touched {
		e.recompute(s, e.snap)
	}
}

// stop ends the loops and leaves the checker, the admin server and the
// override store. An engine of the old instance stopping means a reload
// succeeded: the new instance's engines serve from now on.
func (e *engine) stop() error {
	e.pool.commitRestart()
	if e.cfg.admin != nil {
		e.ops.admins.Unregister(adminView{e}, e.cfg.admin.Addr)
	}
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
	e.store.Detach(e)
	e.stopStore()
	e.pool.release(e)
	served := e.pool.forget(e)
	e.mu.Lock()
	if e.snap != nil && served {
		e.retire(e.snap)
	}
	e.serving = false
	e.mu.Unlock()
	liveSeries.set(e, nil)
	return nil
}

// reloadLoop checks the zone files every cfg.reload and reloads them when
// their content changed. A file that fails keeps the old zones serving; its
// errors are logged once per bad version, not on every tick.
func (e *engine) reloadLoop(ctx context.Context) {
	if e.cfg.reload <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(e.cfg.reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.reloadIfChanged()
		}
	}
}

// reloadIfChanged is one tick of the reload loop: it reloads the zone files
// once a change has settled (see zoneWatch), and drops zones whose file left
// a zones folder longer than dirGrace ago. It reports whether it installed
// new zones. A version that fails to load keeps the old zones serving and is
// logged once.
func (e *engine) reloadIfChanged() bool {
	now := e.ops.clock.Now()
	v, changed := e.watch.tick(e.cfg)
	if !changed {
		if !e.watch.expired(now) {
			return false
		}
		snap := &snapshot{zones: maps.Clone(e.watch.fromFiles.zones), sites: e.watch.fromFiles.sites}
		e.watch.carry(e.cfg, nil, snap, now)
		e.install(snap)
		return true
	}
	e.watch.settled = *v
	e.watch.settled.data = nil
	snap, err := loadWith(e.cfg, v.data)
	if err != nil {
		var list fileerr.ErrorList
		if errors.As(err, &list) {
			for _, fe := range list {
				log.Errorf("reload failed, still serving the previous zones: %s", fe)
			}
		} else {
			log.Errorf("reload failed, still serving the previous zones: %v", err)
		}
		return false
	}
	e.watch.fromFiles = &snapshot{zones: maps.Clone(snap.zones), sites: snap.sites}
	e.watch.carry(e.cfg, e.snap, snap, now)
	e.install(snap)
	log.Infof("reloaded %d zone(s)", len(snap.zones))
	return true
}
