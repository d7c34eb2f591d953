package hadns

import (
	"slices"
	"time"

	"github.com/hadns/hadns/internal/ops"
	"github.com/hadns/hadns/internal/zone"
)

// drainTracker tells the drain tracker of the process (ops.Drains) about
// the answer sets an engine replaces, naming backends by drainKey.
type drainTracker struct{ *ops.Drains }

func newDrainTracker(start time.Time) *drainTracker {
	return &drainTracker{ops.NewDrains(start)}
}

// drainKey names a backend of a service across reloads.
func drainKey(s *zone.Service, b *zone.Backend) string { return s.Name() + "/" + b.ID() }

// replaced records that set, a service's answers, stopped being served at now.
func (d *drainTracker) replaced(now time.Time, s *zone.Service, set *zone.AnswerSet) {
	if set == nil {
		return
	}
	ttls := map[int]uint32{} // backend index → longest TTL it went out with
	set.Each(func(ra *zone.ServiceAnswer) {
		ttl := ra.TTL()
		for _, bi := range ra.Members() {
			ttls[bi] = max(ttls[bi], ttl)
		}
	})
	byKey := make(map[string]uint32, len(ttls))
	for bi, ttl := range ttls {
		byKey[drainKey(s, s.Backends()[bi])] = ttl
	}
	d.Replaced(now, byKey)
}

// safeAt is the time after which no cache that honours TTLs holds b, given
// that no current answer contains it (the caller checks with inAnswers).
func (d *drainTracker) safeAt(s *zone.Service, b *zone.Backend) time.Time {
	return d.SafeAt(drainKey(s, b), s.TTL())
}

// inAnswers reports whether any answer of set hands out backend bi.
func inAnswers(set *zone.AnswerSet, bi int) bool {
	found := false
	set.Each(func(ra *zone.ServiceAnswer) { found = found || slices.Contains(ra.Members(), bi) })
	return found
}
