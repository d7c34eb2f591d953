package hadns

import (
	"time"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/store"
	"github.com/hadns/hadns/internal/zone"
)

// publishObservations writes this instance's view of every target the
// events moved to the shared store (the store writes on change only, under
// the instance lease, and never waits for etcd).
func (e *engine) publishObservations(events []healthcheck.Event) {
	if e.st.set == nil || !e.serving {
		return
	}
	st, err := e.st.set.client()
	if err != nil {
		return
	}
	for _, ev := range events {
		if ev.Removed {
			st.WithdrawObservation(viewKey(ev.Target))
			continue
		}
		if w := observationOf(ev.New); w != "" {
			_ = st.PublishObservation(viewKey(ev.Target), store.Observation{State: w, Since: ev.Time.UTC()})
		}
	}
}

// publishAll publishes the current state of every target of e: at start,
// so peers know this instance's view before its first transition.
func (e *engine) publishAll() {
	if e.st.set == nil {
		return
	}
	st, err := e.st.set.client()
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.targets {
		s, ok := e.checker.Status(t.Key())
		if !ok {
			continue
		}
		if w := observationOf(s.State); w != "" {
			_ = st.PublishObservation(viewKey(*t), store.Observation{State: w, Since: s.Since.UTC()})
		}
	}
}

// publishServed records, for every drained backend, until when this
// instance's answers may hold it in caches: while it is still handed out,
// now plus the TTL (refreshed each second); once it left every answer, the
// drain tracker's time. Other backends are not recorded: drain_safe_at
// only means something for a drained one, and this keeps the writes to
// the few backends being drained.
func (e *engine) publishServed() {
	if e.st.set == nil {
		return
	}
	st, err := e.st.set.client()
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.snap == nil || !e.serving {
		return
	}
	now := e.ops.clock.Now()
	list := indexOverrides(e.store.All())
	for _, z := range e.snap.zones {
		for _, s := range z.Services() {
			set := s.Answers()
			ttl := time.Duration(s.TTL()) * time.Second
			for i, b := range s.Backends() {
				o := list.effective(s.Name(), b, now)
				if o == nil || o.Action != adminapi.ActionDrain {
					continue
				}
				last := now.Truncate(time.Second)
				if !inAnswers(set, i) {
					last = e.ops.drains.safeAt(s, b).Add(-ttl)
				}
				_ = st.PublishServed(drainKey(s, b), store.Served{Last: last.UTC(), TTL: ttl, For: o.At.UTC()})
			}
		}
	}
}

// setDrainSafeAt is the set-wide drain_safe_at of backend b, drained by
// the override created at drainFor, that left this instance's answers at
// local: the latest of local and every peer's record on this drain. While a
// live peer (one whose presence key exists) has not recorded anything on
// this drain yet, it may still hand b out: then there is no set-wide time
// yet, and pending names those peers. Both are nil without a store.
func (e *engine) setDrainSafeAt(s *zone.Service, b *zone.Backend, local, drainFor time.Time) (*time.Time, []string) {
	if e.st.set == nil {
		return nil, nil
	}
	at, pending := e.st.set.view.Load().snap.SetDrainSafeAt(drainKey(s, b), e.st.set.instance(), drainFor.UTC())
	if len(pending) > 0 {
		return nil, pending
	}
	t := local
	if at.After(t) {
		t = at
	}
	t = t.UTC()
	return &t, nil
}
