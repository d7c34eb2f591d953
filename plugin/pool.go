package hadns

import (
	"context"
	"sync"

	"github.com/hadns/hadns/healthcheck"
)

// checkerPool shares one health checker among the engines of a process.
// CoreDNS reloads a Corefile by starting a new plugin instance beside the old
// one and then stopping the old; with one checker under both, a target that
// is in both configurations keeps its probe loop and state, so a reload
// causes no transition. The checker probes the union of the running engines'
// targets.
type checkerPool struct {
	opts healthcheck.Options
	ops  *operations // what else the engines of the process share: overrides, drains, admin

	mu      sync.Mutex
	c       *healthcheck.Checker
	cancel  context.CancelFunc
	engines map[*engine][]healthcheck.Target
}

func newCheckerPool(opts healthcheck.Options) *checkerPool {
	opts.OnProbe = observeProbe
	opts.OnLocalTrouble = observeLocalTrouble
	return &checkerPool{opts: opts, ops: newOperations(opts.Clock), engines: map[*engine][]healthcheck.Target{}}
}

// processPool is the pool of the hadns binary's engines.
var processPool = newCheckerPool(healthcheck.Options{})

// current returns the checker, creating one if none runs, so an engine that
// is not yet started can read the states of a running one.
func (p *checkerPool) current() *healthcheck.Checker {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c == nil {
		p.c = healthcheck.New(p.opts)
	}
	return p.c
}

// trouble returns the checker's own trouble; none when no checker runs.
func (p *checkerPool) trouble() healthcheck.LocalTrouble {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c == nil {
		return healthcheck.LocalTrouble{}
	}
	return p.c.LocalTrouble()
}

// acquire adds e's targets to the checked set, starts the checker if it is
// not running, and returns it.
func (p *checkerPool) acquire(e *engine, targets []healthcheck.Target) *healthcheck.Checker {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c == nil {
		p.c = healthcheck.New(p.opts)
	}
	p.engines[e] = targets
	p.apply()
	if p.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		p.cancel = cancel
		p.c.Start(ctx)
	}
	return p.c
}

// update replaces a started engine's targets (a zone file reload).
func (p *checkerPool) update(e *engine, targets []healthcheck.Target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.engines[e]; !ok {
		return
	}
	p.engines[e] = targets
	p.apply()
}

// release removes e's targets; the last engine out stops the checker.
func (p *checkerPool) release(e *engine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.engines[e]; !ok {
		return
	}
	delete(p.engines, e)
	if len(p.engines) > 0 {
		p.apply()
		return
	}
	p.cancel()
	p.cancel = nil
	p.c.Stop()
	p.c = nil
}

// apply hands the checker the union of every engine's targets; the
// checker collapses duplicates by key.
func (p *checkerPool) apply() {
	var all []healthcheck.Target
	for _, ts := range p.engines {
		all = append(all, ts...)
	}
	// Zone loading validates every check, so this only reports a spec the
	// checker cannot run, which is then not probed.
	if err := p.c.Set(all); err != nil {
		log.Errorf("health checks not started: %v", err)
	}
}
