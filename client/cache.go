package client

import (
	"context"
	"net/netip"
	"strings"
	"time"
)

type cacheKey struct {
	name  string // fully qualified, lower case
	qtype uint16
}

// answer is what a nameserver said about one name and type: records, or a
// negative answer (NXDOMAIN, NODATA) in err.
type answer struct {
	targets []Target
	addrs   []netip.Addr
	err     error
}

// entry is one name and type in the cache. Guarded by Resolver.mu.
type entry struct {
	ans       *answer   // nil until the first answer
	expires   time.Time // query sent + TTL
	refreshAt time.Time // query sent + 75% of the TTL
	// failed says the last query found every nameserver unreachable; no
	// new one is sent before retryAt, and the answer is served stale
	// (within MaxStale) without waiting.
	failed     bool
	retryAt    time.Time
	refreshing bool          // a background refresh is running
	fetching   chan struct{} // closed when the running synchronous query ends
}

// lookup returns the answer for name and qtype from the cache when it is
// fresh (or stale and the nameservers down), else from the nameservers.
// The error is unreachability or ctx's; a negative answer is in ans.err.
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) (*answer, error) {
	k := cacheKey{name: strings.ToLower(name), qtype: qtype}
	clock := clockOr(r.Clock)
	maxStale := r.maxStale()
	for {
		now := clock.Now()
		r.mu.Lock()
		e := r.cache[k]
		if e == nil {
			if r.cache == nil {
				r.cache = map[cacheKey]*entry{}
			}
			r.sweep(now, maxStale)
			e = &entry{}
			r.cache[k] = e
		}
		if e.ans != nil {
			if now.Before(e.expires) {
				if !now.Before(e.refreshAt) {
					r.refreshLocked(k, e, now)
				}
				ans := e.ans
				r.mu.Unlock()
				return ans, nil
			}
			if e.failed && now.Before(e.expires.Add(maxStale)) {
				r.refreshLocked(k, e, now)
				ans := e.ans
				r.mu.Unlock()
				return ans, nil
			}
		}
		if ch := e.fetching; ch != nil {
			// Someone is asking already: wait for them, then look again.
			r.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		e.fetching = ch
		r.mu.Unlock()

		ans, ttl, err := r.query(ctx, k.name, qtype)

		r.mu.Lock()
		e.fetching = nil
		close(ch)
		switch {
		case err == nil:
			e.store(ans, ttl, now)
		case ctx.Err() != nil:
			// Our caller gave up; that says nothing about the nameservers.
		default:
			after := clock.Now()
			e.failed, e.retryAt = true, after.Add(r.staleRetry())
			if e.ans != nil && after.Before(e.expires.Add(maxStale)) {
				ans, err = e.ans, nil
			}
		}
		r.mu.Unlock()
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return ans, err
	}
}

// refreshLocked starts a background query for e unless one is running or a
// failed one was too recent. r.mu is held.
func (r *Resolver) refreshLocked(k cacheKey, e *entry, now time.Time) {
	if e.refreshing || e.fetching != nil || (e.failed && now.Before(e.retryAt)) {
		return
	}
	e.refreshing = true
	go func() {
		// The query's own timeouts bound it; no caller waits for it.
		sent := clockOr(r.Clock).Now()
		ans, ttl, err := r.query(context.Background(), k.name, k.qtype)
		r.mu.Lock()
		e.refreshing = false
		if err == nil {
			e.store(ans, ttl, sent)
		} else {
			e.failed, e.retryAt = true, clockOr(r.Clock).Now().Add(r.staleRetry())
		}
		hook := r.afterRefresh
		r.mu.Unlock()
		if hook != nil {
			hook()
		}
	}()
}

// store keeps ans for ttl seconds counted from when its query was sent,
// so it is never used past its TTL.
func (e *entry) store(ans *answer, ttl uint32, sent time.Time) {
	d := time.Duration(ttl) * time.Second
	e.ans = ans
	e.expires = sent.Add(d)
	e.refreshAt = sent.Add(time.Duration(float64(d) * refreshFraction))
	e.failed = false
}

// sweep drops entries that can no longer be served, not even stale, so
// the cache holds only names in use. It runs when a new name is added.
func (r *Resolver) sweep(now time.Time, maxStale time.Duration) {
	for k, e := range r.cache {
		if e.fetching == nil && !e.refreshing && !now.Before(e.expires.Add(maxStale)) {
			delete(r.cache, k)
		}
	}
}
