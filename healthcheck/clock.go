package healthcheck

import "time"

// Clock is where the probe loops get time from. The real one is the time
// package; tests inject a FakeClock so the state machine runs without sleeps.
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

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }
