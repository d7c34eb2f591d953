package healthcheck

import (
	"strconv"
	"testing"
)

func TestSubscriptionCoalesces(t *testing.T) {
	c := New(Options{})
	s := c.Subscribe()
	defer s.Close()
	ev := func(key string, old, new State) Event { return Event{Key: key, Old: old, New: new} }
	for i := range subscriptionLimit {
		s.push(ev("k"+strconv.Itoa(i), Unknown, Up))
	}
	// Over the limit: same-key events merge, new keys append.
	s.push(ev("k1", Up, Suspect))
	s.push(ev("k1", Suspect, Down))
	s.push(ev("new", Unknown, Down))
	s.push(ev("flap", Up, Down))
	s.push(ev("flap", Down, Up)) // back where it started: dropped
	select {
	case <-s.C():
	default:
		t.Fatal("C not signalled")
	}
	got := s.Events()
	if len(got) != subscriptionLimit+1 {
		t.Fatalf("%d events, want %d", len(got), subscriptionLimit+1)
	}
	if e := got[1]; e.Key != "k1" || e.Old != Unknown || e.New != Down {
		t.Fatalf("merged event %+v, want k1 unknown->down", e)
	}
	if e := got[len(got)-1]; e.Key != "new" {
		t.Fatalf("last event %+v, want new", e)
	}
	for _, e := range got {
		if e.Key == "flap" {
			t.Fatalf("flap went up->down->up while coalesced and should be gone: %+v", e)
		}
	}
	if len(s.Events()) != 0 {
		t.Fatal("Events did not drain")
	}
	// Below the limit again: no coalescing.
	s.push(ev("k1", Down, Up))
	s.push(ev("k1", Up, Suspect))
	if n := len(s.Events()); n != 2 {
		t.Fatalf("%d events, want 2", n)
	}
}

func TestSubscriptionClose(t *testing.T) {
	c := New(Options{})
	a, b := c.Subscribe(), c.Subscribe()
	a.Close()
	if n := len(c.loadSubs()); n != 1 || c.loadSubs()[0] != b {
		t.Fatalf("%d subscriptions after close", n)
	}
	a.push(Event{Key: "x"})
	if len(a.Events()) != 0 {
		t.Fatal("closed subscription queued an event")
	}
	b.Close()
}
