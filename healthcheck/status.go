package healthcheck

import "time"

// Status is what a status page shows of one target.
type Status struct {
	// Target is the target as first given to Set, with its spec defaulted.
	Target Target
	// Key is Target.Key().
	Key   string
	State State
	// Since is when the target entered State (for Unknown: when it was
	// added).
	Since time.Time
	// LastCheck is when the last result came in; zero before the first.
	LastCheck time.Time
	// LastErr is the last probe's error text, "" if it succeeded.
	LastErr string
	// LastDuration is how long the last probe took.
	LastDuration time.Duration
	// Successes and Failures are the lengths of the current runs of
	// consecutive results; one of them is always 0.
	Successes, Failures int
	// Checked reports whether the target has at least one result.
	Checked bool
	// LocalErr is set while the target's latest probe failed on the
	// checker's side (IsLocal): the state above is held from before that.
	// LocalSince is when that run of local failures began.
	LocalErr   string
	LocalSince time.Time
}

// Event is one state transition of a target, or its removal.
type Event struct {
	Target Target
	// Key is Target.Key(), so subscribers need not recompute it.
	Key      string
	Old, New State
	// Reason is the probe error text that caused the transition, "ok", or
	// "removed".
	Reason string
	Time   time.Time
	// Removed reports that Set dropped the target: Old is its last state
	// and New is Unknown, what State returns for a key it does not hold.
	// No event for that key follows unless a later Set adds it again.
	Removed bool
}
