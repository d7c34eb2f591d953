package healthcheck_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/healthcheck/healthchecktest"
)

// TestStateMachine runs result sequences through a real Checker on a fake
// clock and checks, after every probe, the state and the delay to the next.
func TestStateMachine(t *testing.T) {
	var ok error
	fail := errFake
	spec := Spec{DownInterval: 3 * time.Second}
	// With Rand = half: the stagger after the first result is half the base;
	// steady delays are exactly the base.
	const (
		stagger     = 500 * time.Millisecond
		downStagger = 1500 * time.Millisecond
		up          = time.Second
		fast        = 200 * time.Millisecond
		down        = 3 * time.Second
	)
	tests := []struct {
		name    string
		spec    Spec
		results []error
		states  []State
		delays  []time.Duration // delay after each result
	}{
		{"first success decides up", spec, []error{ok, ok}, []State{Up, Up}, []time.Duration{stagger, up}},
		{"first failure decides down", spec, []error{fail, fail}, []State{Down, Down}, []time.Duration{downStagger, down}},
		{"fall 2 through suspect at fast interval", spec,
			[]error{ok, fail, fail, fail}, []State{Up, Suspect, Down, Down}, []time.Duration{stagger, fast, down, down}},
		{"consecutive reset never falls", spec,
			[]error{ok, fail, ok, fail, ok}, []State{Up, Suspect, Up, Suspect, Up}, []time.Duration{stagger, fast, up, fast, up}},
		{"rise 2 at fast interval", spec,
			[]error{fail, ok, ok, ok}, []State{Down, Down, Up, Up}, []time.Duration{downStagger, fast, up, up}},
		{"failure resets rise", spec,
			[]error{fail, ok, fail, ok, ok}, []State{Down, Down, Down, Down, Up}, []time.Duration{downStagger, fast, down, fast, up}},
		{"fall 1", Spec{Fall: 1}, []error{ok, fail}, []State{Up, Down}, []time.Duration{stagger, up}},
		{"rise 3 fall 3", Spec{Rise: 3, Fall: 3},
			[]error{ok, fail, fail, fail, ok, ok, ok}, []State{Up, Suspect, Suspect, Down, Down, Down, Up},
			[]time.Duration{stagger, fast, fast, up, fast, fast, up}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tg := target("192.0.2.1:80", tc.spec)
			h.set(tg)
			key := tg.Key()
			if got := h.c.State(key); got != Unknown {
				t.Fatalf("before start: %v, want unknown", got)
			}
			h.probe.set(tg.Addr, tc.results[0])
			h.c.Start(context.Background())
			h.park(1) // the first probe ran at start, without the clock moving
			if h.probe.count(tg.Addr) != 1 {
				t.Fatalf("first probe did not run at start")
			}
			for i := range tc.results {
				if i > 0 {
					h.probe.set(tg.Addr, tc.results[i])
					h.tick(1)
				}
				if got := h.c.State(key); got != tc.states[i] {
					t.Fatalf("after result %d: %v, want %v", i, got, tc.states[i])
				}
				if d, _ := h.clk.NextTimer(); d != tc.delays[i] {
					t.Fatalf("delay after result %d: %v, want %v", i, d, tc.delays[i])
				}
			}
			if n := h.probe.count(tg.Addr); n != len(tc.results) {
				t.Fatalf("%d probes, want %d", n, len(tc.results))
			}
		})
	}
}

func TestEventsInOrder(t *testing.T) {
	h := newHarness(t)
	tg := target("192.0.2.1:80", Spec{})
	h.set(tg)
	h.c.Start(context.Background())
	h.park(1)
	h.probe.set(tg.Addr, errFake)
	h.tick(1)
	h.tick(1)
	h.probe.set(tg.Addr, nil)
	h.tick(1)
	h.tick(1)
	evs := h.events(4)
	want := []struct {
		old, new State
		reason   string
	}{{Unknown, Up, "ok"}, {Up, Suspect, "fake: refused"}, {Suspect, Down, "fake: refused"}, {Down, Up, "ok"}}
	for i, w := range want {
		e := evs[i]
		if e.Old != w.old || e.New != w.new || e.Reason != w.reason || e.Key != tg.Key() {
			t.Fatalf("event %d: %v->%v %q, want %v->%v %q", i, e.Old, e.New, e.Reason, w.old, w.new, w.reason)
		}
	}
	if !evs[3].Time.After(evs[0].Time) {
		t.Fatalf("event times not increasing: %v", evs)
	}
	st, ok := h.c.Status(tg.Key())
	if !ok || st.State != Up || st.Successes != 2 || st.Failures != 0 || !st.Checked || st.Since != evs[3].Time {
		t.Fatalf("status %+v", st)
	}
}

func TestSetKeepsState(t *testing.T) {
	h := newHarness(t)
	a := target("192.0.2.1:80", Spec{})
	b := target("192.0.2.2:80", Spec{})
	h.set(a)
	h.c.Start(context.Background())
	h.park(1)
	h.probe.set(a.Addr, errFake)
	h.tick(1) // a: Up -> Suspect, one failure counted
	if h.c.State(a.Key()) != Suspect {
		t.Fatalf("a: %v", h.c.State(a.Key()))
	}
	if h.c.Ready() != true {
		t.Fatal("not ready with every target checked")
	}

	// A reload: a again (spelled with explicit defaults, and twice), plus b.
	aAgain := target("192.0.2.1:80", Spec{Interval: time.Second, Rise: 2})
	h.set(aAgain, b, a)
	h.park(2) // b's first probe ran at once
	if len(h.c.Snapshot()) != 2 {
		t.Fatalf("snapshot %v", h.c.Snapshot())
	}
	st, _ := h.c.Status(a.Key())
	if st.State != Suspect || st.Failures != 1 {
		t.Fatalf("a lost its state across Set: %+v", st)
	}
	if h.probe.count(a.Addr) != 2 {
		t.Fatalf("a was re-probed by Set: %d probes", h.probe.count(a.Addr))
	}
	if h.c.State(b.Key()) != Up {
		t.Fatalf("b: %v", h.c.State(b.Key()))
	}
	// The counters carry on: the next failure takes a Down.
	for h.c.State(a.Key()) == Suspect {
		h.tick(2)
	}
	if h.c.State(a.Key()) != Down {
		t.Fatalf("a: %v, want down", h.c.State(a.Key()))
	}

	// Removing a stops its loop; its state reads Unknown.
	h.set(b)
	h.park(1)
	deadline := time.Now().Add(5 * time.Second)
	for h.clk.Pending() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // waiting for a's loop to release its timer
	}
	if h.clk.Pending() != 1 {
		t.Fatalf("%d timers armed after removing a", h.clk.Pending())
	}
	if h.c.State(a.Key()) != Unknown {
		t.Fatalf("removed a reads %v", h.c.State(a.Key()))
	}
	snap := h.c.Snapshot()
	if len(snap) != 1 || snap[0].Key != b.Key() {
		t.Fatalf("snapshot %v", snap)
	}
}

func TestReady(t *testing.T) {
	h := newHarness(t)
	h.probe.block = make(chan struct{})
	a := target("192.0.2.1:80", Spec{})
	h.set(a)
	if h.c.Ready() {
		t.Fatal("ready before any probe")
	}
	h.c.Start(context.Background())
	if h.c.Ready() {
		t.Fatal("ready while the first probe is in flight")
	}
	close(h.probe.block)
	h.park(1)
	if !h.c.Ready() {
		t.Fatal("not ready after the first probe")
	}
}

// TestNoOverlap checks that the next probe is scheduled only after the last
// one finished: while a probe hangs, no timer is armed and time passing
// starts nothing.
func TestNoOverlap(t *testing.T) {
	h := newHarness(t)
	a := target("192.0.2.1:80", Spec{Timeout: 900 * time.Millisecond})
	h.set(a)
	h.c.Start(context.Background())
	h.park(1)
	release := make(chan struct{})
	h.probe.mu.Lock()
	h.probe.block = release
	h.probe.mu.Unlock()
	h.tick(0) // fires the probe, which now hangs
	deadline := time.Now().Add(5 * time.Second)
	for h.probe.count(a.Addr) != 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for range 5 {
		h.clk.Advance(time.Second)
		if h.clk.Pending() != 0 {
			t.Fatal("a timer was armed while the probe was in flight")
		}
	}
	if n := h.probe.count(a.Addr); n != 2 {
		t.Fatalf("%d probes started, want 2", n)
	}
	close(release)
	h.park(1)
}

func TestStopWaits(t *testing.T) {
	h := newHarness(t)
	var tg []Target
	for _, a := range []string{"192.0.2.1:80", "192.0.2.2:80", "192.0.2.3:80"} {
		tg = append(tg, target(a, Spec{}))
	}
	h.set(tg...)
	h.c.Start(context.Background())
	h.park(3)
	h.c.Stop()
	if h.clk.Pending() != 0 {
		t.Fatalf("%d timers armed after Stop", h.clk.Pending())
	}
}

// TestSetValidates: a target of a kind the checker has no prober for, or
// with an invalid spec, is refused by Set with an error naming it, and does
// not run; the valid targets of the same Set do.
func TestSetValidates(t *testing.T) {
	h := newHarness(t)
	good := target("192.0.2.1:80", Spec{})
	exec := target("192.0.2.2:80", Spec{Kind: "exec"})
	slow := target("192.0.2.3:80", Spec{Timeout: 2 * time.Second})
	err := h.c.Set([]Target{good, exec, slow})
	if err == nil {
		t.Fatal("no error for an unknown kind and a timeout above the interval")
	}
	for _, want := range []string{`target 192.0.2.2:80: unknown kind "exec" (want one of dns, fake, http, `, "target 192.0.2.3:80: timeout 2s must be below interval 1s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	h.c.Start(context.Background())
	h.park(1)
	if n := len(h.c.Snapshot()); n != 1 {
		t.Fatalf("%d targets held, want the valid one only", n)
	}
	if _, ok := h.c.Status(exec.Key()); ok {
		t.Fatal("the unknown kind is a target")
	}
	if h.probe.count(exec.Addr) != 0 || h.probe.count(slow.Addr) != 0 {
		t.Fatal("a refused target was probed")
	}
	if !h.c.Ready() {
		t.Fatal("a refused target holds readiness back")
	}
}

// TestRemoveEvent: subscribers learn that a target is gone, with the state
// it was in, and hear nothing more of it.
func TestRemoveEvent(t *testing.T) {
	h := newHarness(t)
	a := target("192.0.2.1:80", Spec{})
	b := target("192.0.2.2:80", Spec{})
	h.set(a, b)
	h.c.Start(context.Background())
	h.park(2)
	h.probe.set(a.Addr, errFake)
	h.events(2) // both Unknown -> Up
	h.set(b)
	ev := h.events(1)[0]
	if !ev.Removed || ev.Key != a.Key() || ev.Old != Up || ev.New != Unknown || ev.Reason != "removed" {
		t.Fatalf("removal event %+v", ev)
	}
	// b goes on; a, now failing, would go Suspect if it still ran.
	h.park(1)
	for range 3 {
		h.tick(1)
	}
	select {
	case <-h.sub.C():
		t.Fatalf("events after the removal: %v", h.sub.Events())
	default:
	}
	// Added again, it starts afresh from Unknown.
	h.set(a, b)
	if ev := h.events(1)[0]; ev.Removed || ev.Old != Unknown || ev.New != Down {
		t.Fatalf("re-added: %+v", ev)
	}
}

func TestOnProbeAndLag(t *testing.T) {
	clk := healthchecktest.NewFakeClock(t0)
	probe := newFakeProber()
	probes, lags := make(chan error, 10), make(chan time.Duration, 10)
	c := New(Options{
		Clock: clk, Rand: half, Probers: map[string]Prober{"fake": probe},
		OnProbe: func(_ Target, _ time.Duration, err error) { probes <- err },
		OnLag:   func(_ Target, lag time.Duration) { lags <- lag },
	})
	defer c.Stop()
	c.Set([]Target{target("192.0.2.1:80", Spec{})})
	c.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(500 * time.Millisecond) // exactly the stagger
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if lag := <-lags; lag != 0 {
		t.Fatalf("lag %v, want 0", lag)
	}
	clk.Advance(1200 * time.Millisecond) // the loop wakes 200ms late
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if lag := <-lags; lag != 200*time.Millisecond {
		t.Fatalf("lag %v, want 200ms", lag)
	}
	if len(probes) != 3 {
		t.Fatalf("%d OnProbe calls, want 3", len(probes))
	}
}
