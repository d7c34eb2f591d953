package hadns

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadns/hadns/internal/admin"
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/ops"
	"github.com/hadns/hadns/internal/store"
)

// overrideStore is where an engine's overrides come from and where the
// admin API writes them: the local state file (ops.Store) or, with a
// `store` line, the nameserver set's etcd (storeSet).
type overrideStore interface {
	admin.OverrideStore
	Attach(l ops.Listener)
	Detach(l ops.Listener)
}

// storeWriteTimeout bounds one admin API write to etcd: a store that is
// away makes the request fail, it never hangs it.
const storeWriteTimeout = 10 * time.Second

// storeStatusEvery is how often the connection state is looked at: a lost
// or regained etcd switches quorum services between the set's verdict and
// local health, and the metrics follow.
const storeStatusEvery = time.Second

// storeSet is the process's client of one shared store. Like the checker
// pool it outlives any one engine: a Corefile reload that keeps the same
// `store` line keeps the same client, watch and instance lease. The client
// is made when the first engine starts and closed when the last engine that
// was set up with it stops, so a reload that fails leaves none behind.
type storeSet struct {
	key string
	cfg store.Config
	o   *operations

	mu        sync.Mutex
	st        *store.Store          // nil until the first engine starts
	made      map[*engine]bool      // engines set up with this store; value: started
	listeners map[ops.Listener]bool // engines to tell about override changes
	cancel    context.CancelFunc
	done      chan struct{}
	first     chan struct{} // closed at the first snapshot
	logged    map[string]string

	view atomic.Pointer[storeView]
}

// storeView is what the engines read of the store: its snapshot, the
// overrides in it as the admin API shows them, and whether etcd is
// reachable now (peers' observations count only then).
type storeView struct {
	snap      *store.Snapshot
	overrides []adminapi.Override
	connected bool
}

// storeSet returns the shared store of sc, making it the first time; e is
// an engine set up with it.
func (o *operations) storeSet(e *engine, sc *storeConfig) *storeSet {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sets == nil {
		o.sets = map[string]*storeSet{}
	}
	s, ok := o.sets[sc.key]
	if !ok {
		s = &storeSet{key: sc.key, cfg: sc.cfg, o: o, made: map[*engine]bool{}, listeners: map[ops.Listener]bool{},
			first: make(chan struct{}), logged: map[string]string{}}
		s.view.Store(&storeView{snap: &store.Snapshot{}})
		o.sets[sc.key] = s
	}
	s.mu.Lock()
	s.made[e] = false
	s.mu.Unlock()
	return s
}

// start makes and starts the client if no engine has yet.
func (s *storeSet) start(e *engine) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.made[e] = true
	if s.st != nil {
		return nil
	}
	st, err := store.New(s.cfg, store.Options{
		Validate:   validateStoreZone,
		OnSnapshot: s.onSnapshot,
		Logf:       func(f string, a ...any) { log.Infof(f, a...) },
	})
	if err != nil {
		return err
	}
	s.st = st
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	if err := st.Start(); err != nil {
		return err
	}
	if err := st.Announce(); err != nil {
		return err
	}
	go s.statusLoop(ctx, s.done)
	log.Infof("store: etcd %v, prefix %s, instance %s", s.cfg.Endpoints, st.Config().Prefix, st.Config().Instance)
	return nil
}

// release forgets e; the last engine out closes the client, revoking this
// instance's lease so its observations and served records vanish at once.
func (s *storeSet) release(e *engine) {
	s.mu.Lock()
	delete(s.made, e)
	if len(s.made) > 0 {
		s.mu.Unlock()
		return
	}
	st, cancel, done := s.st, s.cancel, s.done
	s.st, s.cancel, s.done = nil, nil, nil
	s.mu.Unlock()
	s.o.mu.Lock()
	if s.o.sets[s.key] == s {
		delete(s.o.sets, s.key)
	}
	s.o.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if st != nil {
		_ = st.Close()
	}
}

// client returns the running store, or an error saying it is not running.
func (s *storeSet) client() (*store.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		return nil, errors.New("store: not started")
	}
	return s.st, nil
}

// instance is this instance's name in the set.
func (s *storeSet) instance() string { return s.cfg.Instance }

// onSnapshot is the store's OnSnapshot: it derives the view and has every
// started engine apply what changed.
func (s *storeSet) onSnapshot(snap *store.Snapshot) {
	prev := s.view.Load()
	v := &storeView{snap: snap, connected: s.connectedNow(), overrides: prev.overrides}
	if prev.snap.Overrides == nil || !sameMap(prev.snap.Overrides, snap.Overrides) {
		v.overrides = convertOverrides(snap.Overrides)
	}
	s.view.Store(v)
	s.noteRejected(snap)
	select {
	case <-s.first:
	default:
		close(s.first)
	}
	for _, e := range s.engines() {
		e.storeChanged(prev, v)
	}
}

// connectedNow asks the store whether etcd answers; false before start.
func (s *storeSet) connectedNow() bool {
	s.mu.Lock()
	st := s.st
	s.mu.Unlock()
	return st != nil && st.Status().Connected
}

func (s *storeSet) engines() []*engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*engine
	for e, started := range s.made {
		if started {
			out = append(out, e)
		}
	}
	return out
}

// statusLoop follows the connection state: the view's connected flag (and
// with it quorum verdicts) and the store metrics.
func (s *storeSet) statusLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(storeStatusEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		st := s.st
		s.mu.Unlock()
		if st == nil {
			continue
		}
		status := st.Status()
		setStoreGauges(status)
		prev := s.view.Load()
		if prev.connected != status.Connected {
			v := *prev
			v.connected = status.Connected
			s.view.Store(&v)
			for _, e := range s.engines() {
				e.storeChanged(prev, &v)
			}
		}
		for _, e := range s.engines() {
			e.publishServed()
		}
	}
}

// noteRejected logs and counts each refused value once per reason.
func (s *storeSet) noteRejected(snap *store.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, why := range snap.Rejected {
		if s.logged[k] == why {
			continue
		}
		s.logged[k] = why
		storeRejected.WithLabelValues("store").Inc()
		log.Errorf("store: refused %s, keeping the previous version: %s", k, why)
	}
	for k := range s.logged {
		if _, ok := snap.Rejected[k]; !ok {
			delete(s.logged, k)
		}
	}
}

// waitFirst waits up to d for the first snapshot (from etcd or the saved
// copy), so a starting instance serves store zones from its first query.
func (s *storeSet) waitFirst(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.first:
		return true
	case <-t.C:
		return false
	}
}

// sameMap reports whether two maps are the same map (the store shares the
// maps a batch did not change between snapshots).
func sameMap[K comparable, V any](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// Overrides in etcd. The override's key is its selector, so setting a
// selector again replaces its override, as with the state file, and two
// writers racing on one selector are serialised by compare-and-swap.

// overrideID is the etcd key name of a selector's override.
func overrideID(sel adminapi.Selector) string {
	switch {
	case sel.Backend != "":
		return "backend=" + sel.Backend
	case sel.Site != "":
		return "site=" + sel.Site
	}
	return "glob=" + sel.Glob
}

func toAdmin(id string, o store.Override) adminapi.Override {
	return adminapi.Override{ID: id, Action: o.Action, Backend: o.Selector.Backend, Site: o.Selector.Site, Glob: o.Selector.Glob,
		Reason: o.Reason, Expires: o.Expires, By: o.By, At: o.Created}
}

// convertOverrides lists a snapshot's overrides as the admin API shows them,
// oldest first (as the state file keeps them); values with an action the
// plugin does not know are left out.
func convertOverrides(m map[string]store.Override) []adminapi.Override {
	out := make([]adminapi.Override, 0, len(m))
	for id, o := range m {
		a := toAdmin(id, o)
		if !adminapi.ValidAction(a.Action) || a.Selector().Validate() != nil {
			log.Errorf("store: override %s: action %q or its selector is invalid; ignored", id, o.Action)
			continue
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// All returns the overrides of the current snapshot. The slice is shared:
// callers must not modify it.
func (s *storeSet) All() []adminapi.Override { return s.view.Load().overrides }

// Set writes o under its selector's key, replacing what is there.
func (s *storeSet) Set(o adminapi.Override) (adminapi.Override, *adminapi.Override, error) {
	st, err := s.client()
	if err != nil {
		return o, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeWriteTimeout)
	defer cancel()
	id := overrideID(o.Selector())
	now := time.Now().UTC()
	var replaced *adminapi.Override
	written, err := st.EditOverride(ctx, id, func(cur *store.Override) (*store.Override, error) {
		replaced = nil
		if cur != nil {
			r := toAdmin(id, *cur)
			replaced = &r
		}
		return &store.Override{Action: o.Action, Selector: store.Selector{Backend: o.Backend, Site: o.Site, Glob: o.Glob},
			Reason: o.Reason, By: o.By, Expires: o.Expires, Created: now}, nil
	})
	if err != nil {
		return o, nil, err
	}
	if written == nil {
		return o, replaced, errors.New("store: the override expired before it was written")
	}
	got := toAdmin(id, *written)
	log.Infof("override set in the store: %s", got.Describe())
	return got, replaced, nil
}

// Clear deletes the override of sel (if its action is only, unless only is "").
func (s *storeSet) Clear(sel adminapi.Selector, only, by string) ([]adminapi.Override, error) {
	return s.remove(overrideID(sel), only, by)
}

// Delete deletes the override with key name id.
func (s *storeSet) Delete(id, by string) ([]adminapi.Override, error) { return s.remove(id, "", by) }

func (s *storeSet) remove(id, only, by string) ([]adminapi.Override, error) {
	st, err := s.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeWriteTimeout)
	defer cancel()
	var gone *adminapi.Override
	_, err = st.EditOverride(ctx, id, func(cur *store.Override) (*store.Override, error) {
		if cur == nil || only != "" && cur.Action != only {
			return nil, ops.ErrNoMatch
		}
		g := toAdmin(id, *cur)
		gone = &g
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	log.Infof("override cleared in the store by %s: %s", by, gone.Describe())
	return []adminapi.Override{*gone}, nil
}

// Attach registers an engine to be told when the overrides change.
func (s *storeSet) Attach(l ops.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners[l] = true
}

// Detach unregisters an engine.
func (s *storeSet) Detach(l ops.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, l)
}
