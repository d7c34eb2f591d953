package ops

import (
	"sync"
	"time"
)

// Drains knows, for every backend, until when a cache that honours TTLs may
// still hold it: for every answer that contained it, the time the answer was
// replaced plus its TTL, the latest of them. Engines report each answer set
// they replace (health change, override, zone reload, shutdown), so the
// bound is computed when answers change, never per query. Backends are named
// by a key that stays the same across reloads (SERVICE/ID in hadns).
type Drains struct {
	// start is when this process began answering. Answers of a previous
	// process were replaced by then at the latest, so start + TTL bounds
	// them too.
	start time.Time

	mu    sync.Mutex
	until map[string]time.Time // by backend key
}

// NewDrains returns a tracker for a process that began answering at start.
func NewDrains(start time.Time) *Drains {
	return &Drains{start: start, until: map[string]time.Time{}}
}

// Replaced records that answers stopped being served at now; ttls holds,
// for each backend they handed out, the longest TTL it went out with.
func (d *Drains) Replaced(now time.Time, ttls map[string]uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, ttl := range ttls {
		if t := now.Add(time.Duration(ttl) * time.Second); t.After(d.until[k]) {
			d.until[k] = t
		}
	}
}

// SafeAt is the time after which no cache that honours TTLs holds backend
// key, whose service answers with ttl, given that no current answer contains
// it (the caller checks).
func (d *Drains) SafeAt(key string, ttl uint32) time.Time {
	d.mu.Lock()
	t := d.until[key]
	d.mu.Unlock()
	if prev := d.start.Add(time.Duration(ttl) * time.Second); prev.After(t) {
		t = prev
	}
	return t
}

// Prune forgets the backends that no engine has any more, once no cache can
// hold them (until has passed), so the map does not grow with every
// backend a reload ever removed. live holds the keys still served.
func (d *Drains) Prune(now time.Time, live map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, t := range d.until {
		if !live[k] && !t.After(now) {
			delete(d.until, k)
		}
	}
}
