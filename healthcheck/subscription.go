package healthcheck

import "sync"

// subscriptionLimit is how many events a subscription queues before it starts
// coalescing: enough for every transition of a large site failing at once to
// be seen one by one by a subscriber that keeps up.
const subscriptionLimit = 4096

// Subscription receives every transition of a Checker's targets, in order.
// Publishing never blocks a probe loop: events go into a queue guarded by a
// short-held mutex, and C is signalled without waiting.
//
// The queue is bounded. Once it holds subscriptionLimit events, a new event
// for a target that already has one queued is merged into that one: it keeps
// the first Old and takes the last New, Reason, Time and Removed. If the
// merged event ends where it started (down and back up) and is not a
// removal, it is dropped. So a slow
// subscriber still sees, for every target, the state it ended in and the
// state it knew before, in the order of each target's own transitions, and
// the queue never holds more than the limit plus one event per target.
type Subscription struct {
	checker *Checker
	ch      chan struct{}

	mu     sync.Mutex
	queue  []Event
	index  map[string]int // key -> position of its last queued event; only while over the limit
	closed bool
}

// Subscribe returns a new subscription. Close it when done.
func (c *Checker) Subscribe() *Subscription {
	s := &Subscription{checker: c, ch: make(chan struct{}, 1)}
	c.subMu.Lock()
	defer c.subMu.Unlock()
	subs := append(append([]*Subscription(nil), c.loadSubs()...), s)
	c.subs.Store(&subs)
	return s
}

// C is signalled (it has a buffer of one) when events are pending. After a
// receive, call Events to drain them.
func (s *Subscription) C() <-chan struct{} { return s.ch }

// Events returns the pending events, oldest first, and empties the queue.
func (s *Subscription) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	s.index = nil
	return q
}

// Close unsubscribes. Pending events are dropped.
func (s *Subscription) Close() {
	c := s.checker
	c.subMu.Lock()
	old := c.loadSubs()
	subs := make([]*Subscription, 0, len(old))
	for _, o := range old {
		if o != s {
			subs = append(subs, o)
		}
	}
	c.subs.Store(&subs)
	c.subMu.Unlock()

	s.mu.Lock()
	s.closed = true
	s.queue = nil
	s.index = nil
	s.mu.Unlock()
}

// push queues ev, coalescing when over the limit, and signals C.
func (s *Subscription) push(ev Event) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.queue) < subscriptionLimit {
		s.queue = append(s.queue, ev)
	} else {
		if s.index == nil {
			s.index = make(map[string]int, len(s.queue))
			for i, e := range s.queue {
				s.index[e.Key] = i
			}
		}
		if i, ok := s.index[ev.Key]; ok {
			merged := &s.queue[i]
			merged.New, merged.Reason, merged.Time, merged.Removed = ev.New, ev.Reason, ev.Time, ev.Removed
			if merged.Old == merged.New && !merged.Removed {
				s.queue = append(s.queue[:i], s.queue[i+1:]...)
				s.index = nil // positions moved; rebuilt on the next overflow
			}
		} else {
			s.index[ev.Key] = len(s.queue)
			s.queue = append(s.queue, ev)
		}
	}
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
}
