// Package healthchecktest holds test support for code that drives a
// healthcheck.Checker: a FakeClock whose time moves only when the test says
// so. It is a package of its own so that the fake does not ship in the
// production package; only tests should import it.
package healthchecktest

import (
	"context"
	"sync"
	"time"

	"github.com/hadns/hadns/healthcheck"
)

// FakeClock is a healthcheck.Clock for tests: time moves only when Advance is
// called, and BlockUntil lets a test wait until the probe loops are parked on
// their timers (so that "advance, then look" never races a loop still
// working).
type FakeClock struct {
	mu     sync.Mutex
	change chan struct{} // closed and replaced whenever the armed set changes
	now    time.Time
	armed  map[*fakeTimer]struct{}
}

// NewFakeClock returns a FakeClock reading t0.
func NewFakeClock(t0 time.Time) *FakeClock {
	return &FakeClock{now: t0, armed: map[*fakeTimer]struct{}{}, change: make(chan struct{})}
}

// Now returns the fake time.
func (f *FakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer armed to fire d from now.
func (f *FakeClock) NewTimer(d time.Duration) healthcheck.Timer {
	t := &fakeTimer{clock: f, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves the time forward by d, firing, in deadline order, every timer
// that was armed when it was called and falls due. A loop that re-arms its
// timer in response is not fired again by the same call.
func (f *FakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	end := f.now.Add(d)
	for {
		var next *fakeTimer
		for t := range f.armed {
			if !t.when.After(end) && (next == nil || t.when.Before(next.when)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		if next.when.After(f.now) {
			f.now = next.when
		}
		delete(f.armed, next)
		select {
		case next.ch <- f.now:
		default:
		}
	}
	f.now = end
	f.signal()
}

// Pending returns how many timers are armed.
func (f *FakeClock) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.armed)
}

// NextTimer returns how long until the earliest armed timer fires, and false
// if none is armed.
func (f *FakeClock) NextTimer() (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next *fakeTimer
	for t := range f.armed {
		if next == nil || t.when.Before(next.when) {
			next = t
		}
	}
	if next == nil {
		return 0, false
	}
	return next.when.Sub(f.now), true
}

// BlockUntil waits until at least n timers are armed, or ctx is done.
func (f *FakeClock) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		if len(f.armed) >= n {
			f.mu.Unlock()
			return nil
		}
		ch := f.change
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// signal wakes BlockUntil waiters; f.mu must be held.
func (f *FakeClock) signal() {
	close(f.change)
	f.change = make(chan struct{})
}

type fakeTimer struct {
	clock *FakeClock
	ch    chan time.Time
	when  time.Time // guarded by clock.mu
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(d time.Duration) {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	select { // no stale tick after Reset, as with time.Timer since Go 1.23
	case <-t.ch:
	default:
	}
	t.when = f.now.Add(d)
	if d <= 0 {
		delete(f.armed, t)
		t.ch <- f.now
	} else {
		f.armed[t] = struct{}{}
	}
	f.signal()
}

func (t *fakeTimer) Stop() {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.armed, t)
	select {
	case <-t.ch:
	default:
	}
	f.signal()
}
