package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Checker. The zero value is ready to use.
type Options struct {
	// Clock is the time source of the loops. Default: the real clock.
	Clock Clock
	// OnProbe is called after every probe with its duration and result
	// (for watch: every connect attempt and every lost connection). It runs
	// on the probe loop, so it must be cheap. Default none.
	OnProbe func(t Target, d time.Duration, err error)
	// OnLag is called before every scheduled probe with how late it
	// started against its schedule: a measure of checker overload. It must
	// be cheap. Default none.
	OnLag func(t Target, lag time.Duration)
	// Probers adds kinds or replaces built-in ones, by kind name (tests
	// inject fakes this way). Default: the built-in kinds only.
	Probers map[string]Prober
	// Rand returns a uniform int64 in [0, n); it drives the jitter.
	// Default math/rand/v2.
	Rand func(n int64) int64
	// OnLocalTrouble is called when the checker's own trouble begins (the
	// first target whose probe failed locally, see IsLocal) and when it
	// ends (no target's latest probe failed locally any more), with the
	// trouble as it stands. It must be cheap. Default none.
	OnLocalTrouble func(LocalTrouble)
}

// Checker runs the probe loops of a set of targets and keeps their state.
type Checker struct {
	clock   Clock
	onProbe func(Target, time.Duration, error)
	onLag   func(Target, time.Duration)
	probers map[string]Prober
	rand    func(int64) int64

	onTrouble func(LocalTrouble)
	troubleMu sync.Mutex // guards trouble, and orders onTrouble calls
	trouble   LocalTrouble

	kindList []string // sorted keys of probers, built once (under mu)

	mu      sync.Mutex
	entries map[string]*entry
	ctx     context.Context // nil until Start
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	tcp     *tcpLoop // runs the tcp targets (Linux, real clock); nil if not

	// view is entries as an immutable map, swapped whole on every Set, so
	// the query path reads states without a lock.
	view atomic.Pointer[map[string]*entry]

	subMu sync.Mutex                      // serialises changes to subs
	subs  atomic.Pointer[[]*Subscription] // copy-on-write, read by publishers
}

// entry is one target's loop and state.
type entry struct {
	key    string
	target Target
	prober Prober
	state  atomic.Uint32 // a State; written under mu, read without
	cancel context.CancelFunc
	looped bool // runs on Checker.tcp rather than its own goroutine

	mu        sync.Mutex
	counts    counts
	since     time.Time
	lastCheck time.Time
	lastErr   error
	lastDur   time.Duration
	gone      bool // removed by Set: publish no more events
	// localSince is when the current run of local failures began (zero:
	// the latest probe was not one); localErr is the latest of them.
	localSince time.Time
	localErr   error
}

// New returns a Checker with no targets. Call Set and Start.
func New(o Options) *Checker {
	c := &Checker{
		clock:   o.Clock,
		onProbe: o.OnProbe,
		onLag:   o.OnLag,
		probers: builtinProbers(),
		rand:    o.Rand,
		entries: map[string]*entry{},

		onTrouble: o.OnLocalTrouble,
	}
	if c.clock == nil {
		c.clock = SystemClock{}
	}
	if c.rand == nil {
		c.rand = rand.Int64N
	}
	for kind, p := range o.Probers {
		c.probers[kind] = p
	}
	empty := map[string]*entry{}
	c.view.Store(&empty)
	return c
}

// Start starts the probe loops of the current targets, and of any that Set
// adds later, until ctx is done or Stop is called. Each target's first probe
// runs at once. Call it once.
func (c *Checker) Start(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx != nil {
		return
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	if l, err := newTCPLoop(c); err == nil {
		c.tcp = l
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			l.run(c.ctx)
		}()
	}
	for _, e := range c.entries {
		c.startLocked(e)
	}
}

// Stop stops every loop and waits for them to return. Probes in flight are
// abandoned through their context.
func (c *Checker) Stop() {
	c.mu.Lock()
	if c.cancel != nil {
		c.cancel()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// Set replaces the target set. Targets are identified by Key: new ones start
// (at once if the checker is running), removed ones stop, and unchanged ones
// keep their loop, state and counters, so a reload never flaps. Targets
// sharing a key collapse into one loop; its Status shows the first of them.
//
// Specs are defaulted and validated here (Spec.Validate, with the kinds this
// checker has probers for). A target whose spec is invalid, say of a kind
// the checker does not know, is not added: Set returns an error naming it
// and every such target, and applies the rest.
//
// Subscribers get an Event with Removed set for every target that goes.
func (c *Checker) Set(targets []Target) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]*entry, len(targets))
	var added []*entry
	var errs []error
	// The entries' specs are interned: targets checked alike share one
	// (and the caller's Specs are never held).
	var specs Specs
	for _, t := range targets {
		t.Spec = specs.Intern(t.spec())
		if err := t.Spec.validate(c.kinds()); err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", t.ProbeAddr(), err))
			continue
		}
		k := t.Key()
		if _, dup := next[k]; dup {
			continue
		}
		if e, ok := c.entries[k]; ok {
			next[k] = e
			continue
		}
		e := c.newEntry(k, t)
		next[k] = e
		added = append(added, e)
	}
	now := c.clock.Now()
	for k, e := range c.entries {
		if _, keep := next[k]; !keep {
			c.removeLocked(e, now)
		}
	}
	c.entries = next
	view := make(map[string]*entry, len(next))
	for k, e := range next {
		view[k] = e
	}
	c.view.Store(&view)
	if c.ctx != nil {
		for _, e := range added {
			c.startLocked(e)
		}
	}
	return errors.Join(errs...)
}

// kinds lists the kinds this checker has probers for, sorted.
func (c *Checker) kinds() []string {
	if c.kindList == nil {
		for k := range c.probers {
			c.kindList = append(c.kindList, k)
		}
		slices.Sort(c.kindList)
	}
	return c.kindList
}

// removeLocked stops e's loop and tells subscribers it is gone; c.mu must
// be held. After this e publishes no more events.
func (c *Checker) removeLocked(e *entry, now time.Time) {
	e.mu.Lock()
	e.gone = true
	ev := Event{Target: e.target, Key: e.key, Old: e.counts.state, New: Unknown, Reason: "removed", Time: now, Removed: true}
	for _, s := range c.loadSubs() {
		s.push(ev)
	}
	c.clearLocal(e)
	e.mu.Unlock()
	switch {
	case e.looped:
		c.tcp.remove(e)
	case e.cancel != nil:
		e.cancel()
	}
}

func (c *Checker) newEntry(key string, t Target) *entry {
	e := &entry{key: key, target: t, since: c.clock.Now()}
	p := c.probers[t.Spec.Kind] // Set validated the kind
	if b, ok := p.(binder); ok {
		bound, err := b.bind(t)
		if err != nil {
			p = failedProber{err}
		} else {
			p = bound
		}
	}
	e.prober = p
	return e
}

// startLocked starts e's loop; c.mu must be held and c.ctx set.
func (c *Checker) startLocked(e *entry) {
	if c.tcp != nil && c.tcpLoopSupported(e) {
		e.looped = true
		c.tcp.add(e)
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	e.cancel = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		if w, ok := e.prober.(Watcher); ok {
			c.watchLoop(ctx, e, w)
		} else {
			c.pollLoop(ctx, e)
		}
	}()
}

// State returns the state of the target with this key, Unknown if there is
// none. It takes no lock: it is for the query path.
func (c *Checker) State(key string) State {
	if e, ok := (*c.view.Load())[key]; ok {
		return State(e.state.Load())
	}
	return Unknown
}

// Status returns the details of the target with this key.
func (c *Checker) Status(key string) (Status, bool) {
	e, ok := (*c.view.Load())[key]
	if !ok {
		return Status{}, false
	}
	return e.status(), true
}

// Snapshot returns the status of every target, sorted by key.
func (c *Checker) Snapshot() []Status {
	view := *c.view.Load()
	out := make([]Status, 0, len(view))
	for _, e := range view {
		out = append(out, e.status())
	}
	slices.SortFunc(out, func(a, b Status) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	return out
}

// Ready reports whether every current target has at least one result (the
// plugin's readiness: until then some states are still Unknown).
func (c *Checker) Ready() bool {
	for _, e := range *c.view.Load() {
		e.mu.Lock()
		checked := e.counts.probeCount > 0
		e.mu.Unlock()
		if !checked {
			return false
		}
	}
	return true
}

func (e *entry) status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Status{
		Target:       e.target,
		Key:          e.key,
		State:        e.counts.state,
		Since:        e.since,
		LastCheck:    e.lastCheck,
		LastDuration: e.lastDur,
		Successes:    e.counts.successes,
		Failures:     e.counts.failures,
		Checked:      e.counts.probeCount > 0,
	}
	if e.lastErr != nil {
		st.LastErr = e.lastErr.Error()
	}
	if e.localErr != nil {
		st.LocalErr, st.LocalSince = e.localErr.Error(), e.localSince
	}
	return st
}

func (c *Checker) loadSubs() []*Subscription {
	if p := c.subs.Load(); p != nil {
		return *p
	}
	return nil
}
