package healthcheck

import "time"

// Clock is where the probe loops get time from. The real one is SystemClock;
// tests inject a fake (healthchecktest.FakeClock) so the state machine runs
// without sleeps.
type Clock interface {
	Now() time.Time
	// NewTimer returns an armed timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of time.Timer the loops use. Reset re-arms it; after
// Reset or Stop no stale value is left in C (Go 1.23 timer semantics).
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// SystemClock is the Clock of the time package: the one a Checker uses when
// Options.Clock is nil, and the one the plugin's other timekeeping (drains,
// overrides) uses too, so that there is one real-clock adapter.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer that fires once after d.
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time   { return s.t.C }
func (s systemTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s systemTimer) Stop()                 { s.t.Stop() }
