package hadns

import (
	"slices"
	"sync"
	"time"
)

// drainTracker knows, for every backend, until when a cache that honours
// TTLs may still hold it: for every answer that contained it, the time the
// answer was replaced plus its TTL, the latest of them. Engines report each
// answer set they replace (health change, override, zone reload, shutdown),
// so the bound is computed when answers change, never per query.
type drainTracker struct {
	// start is when this process began answering. Answers of a previous
	// process were replaced by then at the latest, so start + TTL bounds
	// them too.
	start time.Time

	mu    sync.Mutex
	until map[string]time.Time // by drainKey
}

func newDrainTracker(start time.Time) *drainTracker {
	return &drainTracker{start: start, until: map[string]time.Time{}}
}

// drainKey names a backend of a service across reloads.
func drainKey(s *service, b *backend) string { return s.name + "/" + b.ID() }

// replaced records that set, a service's answers, stopped being served at now.
func (d *drainTracker) replaced(now time.Time, s *service, set *answerSet) {
	if set == nil {
		return
	}
	ttls := map[int]uint32{} // backend index → longest TTL it went out with
	each(set, func(ra *rrAnswer) {
		ttl := ra.ttl()
		for _, bi := range ra.members {
			ttls[bi] = max(ttls[bi], ttl)
		}
	})
	d.mu.Lock()
	defer d.mu.Unlock()
	for bi, ttl := range ttls {
		k := drainKey(s, s.backends[bi])
		if t := now.Add(time.Duration(ttl) * time.Second); t.After(d.until[k]) {
			d.until[k] = t
		}
	}
}

// safeAt is the time after which no cache that honours TTLs holds b, given
// that no current answer contains it (the caller checks with inAnswers).
func (d *drainTracker) safeAt(s *service, b *backend) time.Time {
	d.mu.Lock()
	t := d.until[drainKey(s, b)]
	d.mu.Unlock()
	if prev := d.start.Add(time.Duration(s.ttl) * time.Second); prev.After(t) {
		t = prev
	}
	return t
}

// inAnswers reports whether any answer of set hands out backend bi.
func inAnswers(set *answerSet, bi int) bool {
	found := false
	each(set, func(ra *rrAnswer) { found = found || slices.Contains(ra.members, bi) })
	return found
}

// each calls f for every answer of set: A, AAAA and SRV, for every site.
func each(set *answerSet, f func(*rrAnswer)) {
	if set == nil {
		return
	}
	for i := range set.bySite {
		sa := &set.bySite[i]
		f(&sa.a)
		f(&sa.aaaa)
		for j := range sa.srv {
			f(&sa.srv[j])
		}
	}
}

// ttl is the TTL the answer's records carry (one for all of them).
func (ra *rrAnswer) ttl() uint32 {
	if len(ra.rotations) == 0 || len(ra.rotations[0]) == 0 {
		return 0
	}
	return ra.rotations[0][0].Header().Ttl
}

// prune forgets the backends that no engine has any more, once no cache can
// hold them (until has passed), so the map does not grow with every
// backend a reload ever removed.
func (d *drainTracker) prune(now time.Time, live map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, t := range d.until {
		if !live[k] && !t.After(now) {
			delete(d.until, k)
		}
	}
}
