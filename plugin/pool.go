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
	engines map[*engine][]*healthcheck.Target // started engines

	// made is every engine set up and not yet stopped, started or not. An
	// engine serves once its instance's servers run: at once on the first
	// start-up, and on a Corefile reload only when the old instance stops,
	// which caddy does only after the new one's servers started.
	made map[*engine]bool // value: serving
	// restarting is set by the serving instance's OnRestart: engines that
	// start from then on are the new instance's, and do not serve yet.
	restarting bool
}

func newCheckerPool(opts healthcheck.Options) *checkerPool {
	opts.OnProbe = observeProbe
	opts.OnLocalTrouble = observeLocalTrouble
	return &checkerPool{opts: opts, ops: newOperations(opts.Clock), engines: map[*engine][]*healthcheck.Target{}, made: map[*engine]bool{}}
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
func (p *checkerPool) acquire(e *engine, targets []*healthcheck.Target) *healthcheck.Checker {
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
func (p *checkerPool) update(e *engine, targets []*healthcheck.Target) {
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
		for _, t := range ts {
			all = append(all, *t)
		}
	}
	// Zone loading validates every check, so this only reports a spec the
	// checker cannot run, which is then not probed.
	if err := p.c.Set(all); err != nil {
		log.Errorf("health checks not started: %v", err)
	}
}

// add records an engine that setup created; it serves once promoted.
func (p *checkerPool) add(e *engine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.made[e] = false
}

// servesAtStart reports whether an engine starting now serves at once: it
// does unless a Corefile reload is in progress, whose new instance may still
// fail after its start-up hooks ran.
func (p *checkerPool) servesAtStart(e *engine) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.restarting {
		return false
	}
	p.made[e] = true
	return true
}

// beginRestart is the serving instance's OnRestart: a new instance is about
// to be set up and started beside it.
func (p *checkerPool) beginRestart() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.restarting = true
	return nil
}

// commitRestart runs when an engine of the old instance stops. When a reload
// is in progress, caddy stops the old instance only once the new one's
// servers run, so every engine not yet serving now serves: it publishes its
// gauges.
func (p *checkerPool) commitRestart() {
	p.mu.Lock()
	if !p.restarting {
		p.mu.Unlock()
		return
	}
	p.restarting = false
	var promote []*engine
	for e, serving := range p.made {
		if !serving {
			p.made[e] = true
			promote = append(promote, e)
		}
	}
	p.mu.Unlock()
	for _, e := range promote {
		e.promote()
	}
}

// abortRestart is the serving instance's OnRestartFailed. caddy drops a new
// instance that failed after its start-up hooks ran (a port in use) without
// calling its OnShutdown, so its engines would go on probing, registered with
// the admin server and the override store: stop every engine that does not
// serve. Called once per hadns block of the old instance; later calls find
// nothing to do.
func (p *checkerPool) abortRestart() error {
	p.mu.Lock()
	p.restarting = false
	var ghosts []*engine
	for e, serving := range p.made {
		if !serving {
			ghosts = append(ghosts, e)
		}
	}
	p.mu.Unlock()
	for _, e := range ghosts {
		log.Infof("Corefile reload failed: stopping the hadns instance of the rejected configuration; the previous one keeps serving")
		e.stop()
	}
	p.ops.dropStores(ghosts)
	return nil
}

// forget removes a stopped engine, and reports whether it ever served.
func (p *checkerPool) forget(e *engine) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	serving := p.made[e]
	delete(p.made, e)
	return serving
}
