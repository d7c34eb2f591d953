package hadns

import (
	"slices"
	"time"

	"github.com/hadns/hadns/internal/ops"
)

// drainTracker tells the drain tracker of the process (ops.Drains) about
// the answer sets an engine replaces, naming backends by drainKey.
type drainTracker struct{ *ops.Drains }

func newDrainTracker(start time.Time) *drainTracker {
	return &drainTracker{ops.NewDrains(start)}
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
	byKey := make(map[string]uint32, len(ttls))
	for bi, ttl := range ttls {
		byKey[drainKey(s, s.backends[bi])] = ttl
	}
	d.Replaced(now, byKey)
}

// safeAt is the time after which no cache that honours TTLs holds b, given
// that no current answer contains it (the caller checks with inAnswers).
func (d *drainTracker) safeAt(s *service, b *backend) time.Time {
	return d.SafeAt(drainKey(s, b), s.ttl)
}

// inAnswers reports whether any answer of set hands out backend bi.
func inAnswers(set *answerSet, bi int) bool {
	found := false
	each(set, func(ra *rrAnswer) { found = found || slices.Contains(ra.members, bi) })
	return found
}

// each calls f for every answer of set: A, AAAA, SRV, HTTPS and SVCB, for
// every site.
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
		for j := range sa.svcb {
			f(&sa.svcb[j])
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
