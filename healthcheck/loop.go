package healthcheck

import (
	"context"
	"errors"
	"time"
)

// pollLoop probes e on its schedule until ctx is done. The first probe runs at
// once; each next one is scheduled only after the last one finished.
func (c *Checker) pollLoop(ctx context.Context, e *entry) {
	var timer Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	spec := e.target.Spec
	for first := true; ; first = false {
		start := c.clock.Now()
		// Probes do real I/O: their timeout is on the real clock.
		pctx, cancel := context.WithTimeout(ctx, spec.Timeout)
		err := e.prober.Check(pctx, e.target)
		cancel()
		if ctx.Err() != nil {
			return // stopped mid-probe: its failure would be a false one
		}
		end := c.clock.Now()
		next := c.record(e, err, end.Sub(start), false, first)

		due := end.Add(next)
		if timer == nil {
			timer = c.clock.NewTimer(next)
		} else {
			timer.Reset(next)
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C():
		}
		if c.onLag != nil {
			c.onLag(e.target, c.clock.Now().Sub(due))
		}
	}
}

// watchLoop holds a connection to e while it is Up. A lost connection takes
// it Down at once; then it reconnects with backoff (FastInterval, doubling,
// capped at DownInterval), and each reconnect is a probe: a good one is closed
// again and retried after FastInterval until Rise good ones in a row make the
// target Up, and the connection that made it Up is the one held.
//
// A connection the kernel dropped for an unanswered keepalive is the one
// exception: one lost keepalive packet looks the same as a host that went
// silent. The target is Suspect while one reconnect, bounded by Timeout,
// tells them apart: if it connects, that connection is held and the target
// is Up again; if not, it is Down.
func (c *Checker) watchLoop(ctx context.Context, e *entry, w Watcher) {
	spec := e.target.Spec
	var timer Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	sleep := func(d time.Duration) bool {
		if d <= 0 {
			return ctx.Err() == nil
		}
		if timer == nil {
			timer = c.clock.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return false
		case <-timer.C():
			return true
		}
	}
	open := func() (Session, time.Duration, error) {
		start := c.clock.Now()
		octx, cancel := context.WithTimeout(ctx, spec.Timeout)
		sess, err := w.Open(octx, e.target)
		cancel()
		return sess, c.clock.Now().Sub(start), err
	}
	backoff := spec.FastInterval
	var sess Session // set when a confirming reconnect left one to hold
	for first := true; ; first = false {
		if sess == nil {
			s, d, err := open()
			if ctx.Err() != nil {
				if s != nil {
					s.Close()
				}
				return
			}
			c.record(e, err, d, err != nil, first)
			if err != nil {
				if !sleep(backoff) {
					return
				}
				backoff = min(2*backoff, spec.DownInterval)
				continue
			}
			if State(e.state.Load()) != Up {
				s.Close() // a good reconnect, but not yet Rise of them
				if !sleep(spec.FastInterval) {
					return
				}
				continue
			}
			sess = s
		}
		held := c.clock.Now()
		err := sess.Wait(ctx)
		sess.Close()
		sess = nil
		if ctx.Err() != nil {
			return
		}
		lived := c.clock.Now().Sub(held)
		if errors.Is(err, errKeepalive) {
			c.recordTentative(e, err, lived)
			s, d, rerr := open()
			if ctx.Err() != nil {
				if s != nil {
					s.Close()
				}
				return
			}
			if rerr == nil {
				c.record(e, nil, d, false, false)
				if State(e.state.Load()) == Up {
					sess = s // hold the new connection
					continue
				}
				s.Close()
			} else {
				// The host is gone; the reason is the keepalive, not the
				// confirming connect's timeout.
				c.record(e, err, d, true, false)
			}
		} else {
			c.record(e, err, lived, true, false)
		}
		// A connection that lived for a while earns a quick first retry; one
		// dropped at once by a backend that accepts and closes keeps backing
		// off, so a crash-looping backend is not hammered.
		if lived >= spec.Interval {
			backoff = spec.FastInterval
		}
		if !sleep(backoff) {
			return
		}
		backoff = min(2*backoff, spec.DownInterval)
	}
}

// recordTentative records a failure that can at most make e Suspect,
// whatever its Fall: one that a confirming probe follows at once.
func (c *Checker) recordTentative(e *entry, err error, d time.Duration) {
	c.recordWith(e, err, d, false, false, 2)
}

// record applies one result to e, publishes a transition if there is one,
// and returns the delay until the next probe.
func (c *Checker) record(e *entry, err error, d time.Duration, definitive, first bool) time.Duration {
	return c.recordWith(e, err, d, definitive, first, 0)
}

// recordWith is record with a lower bound on Fall (0: the spec's Fall).
func (c *Checker) recordWith(e *entry, err error, d time.Duration, definitive, first bool, minFall int) time.Duration {
	if IsLocal(err) {
		return c.recordLocal(e, err, d)
	}
	now := c.clock.Now()
	e.mu.Lock()
	c.clearLocal(e)
	old := e.counts.state
	e.counts = step(e.counts, err == nil, definitive, e.target.Spec.Rise, max(e.target.Spec.Fall, minFall))
	e.lastCheck, e.lastErr, e.lastDur = now, err, d
	next := nextDelay(e.target.Spec, e.counts, first, c.rand)
	if nw := e.counts.state; nw != old {
		e.state.Store(uint32(nw))
		e.since = now
		if !e.gone {
			// Published under e.mu so one target's events stay in order.
			reason := "ok"
			if err != nil {
				reason = err.Error()
			}
			ev := Event{Target: e.target, Key: e.key, Old: old, New: nw, Reason: reason, Time: now}
			for _, s := range c.loadSubs() {
				s.push(ev)
			}
		}
	}
	e.mu.Unlock()
	if c.onProbe != nil {
		c.onProbe(e.target, d, err)
	}
	return next
}
