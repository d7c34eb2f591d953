package healthcheck

import "time"

// counts is what the policy remembers of a target: its state and the lengths
// of the current runs of successes and failures (one of them is always 0).
type counts struct {
	state      State
	successes  int
	failures   int
	probeCount int // results so far; the first one decides from Unknown
}

// step applies one probe result to c. It is pure so the whole policy can be
// tested by table. definitive marks a failure that needs no confirmation (a
// watched connection that was lost): it takes the target Down at once.
func step(c counts, ok, definitive bool, rise, fall int) counts {
	c.probeCount++
	if ok {
		c.successes++
		c.failures = 0
		switch c.state {
		case Unknown, Up, Suspect:
			c.state = Up
		case Down:
			if c.successes >= rise {
				c.state = Up
			}
		}
		return c
	}
	c.failures++
	c.successes = 0
	switch c.state {
	case Unknown:
		c.state = Down
	case Up, Suspect:
		if definitive || c.failures >= fall {
			c.state = Down
		} else {
			c.state = Suspect
		}
	}
	return c
}

// jitterFraction is the spread of a steady-state delay: ±1/jitterFraction
// (±5%). It keeps targets that were once synchronised (a site that failed as
// one) from probing in lockstep forever, at the price of 5% of an interval in
// the detection bound.
const jitterFraction = 20

// jitter returns d ±5%, drawn from rnd (which returns [0, n)).
func jitter(d time.Duration, rnd func(int64) int64) time.Duration {
	spread := int64(d) / jitterFraction
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread) + time.Duration(rnd(2*spread+1))
}

// maxJitter is the longest delay jitter can return for d.
func maxJitter(d time.Duration) time.Duration { return d + d/jitterFraction }

// nextDelay is how long to wait after a probe that left the target in c.
// first marks the target's first result: its delay is uniform in
// [0, base) so targets started together spread over the interval.
func nextDelay(s *Spec, c counts, first bool, rnd func(int64) int64) time.Duration {
	var base time.Duration
	switch {
	case c.state == Suspect, c.state == Down && c.successes > 0:
		return s.FastInterval // in transition: confirm quickly, no jitter
	case c.state == Down:
		base = s.DownInterval
	default:
		base = s.Interval
	}
	if first {
		if base <= 0 {
			return 0
		}
		return time.Duration(rnd(int64(base)))
	}
	return jitter(base, rnd)
}
