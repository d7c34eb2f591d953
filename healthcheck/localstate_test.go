package healthcheck_test

import (
	"context"
	"os"
	"sync"
	"syscall"
	"testing"

	. "github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/healthcheck/healthchecktest"
)

// TestLocalFailureHoldsState: a probe that fails on the checker's side
// (out of file descriptors) neither moves the target's state nor counts
// towards fall; it is the checker's trouble, which ends with the next probe
// that gets through.
func TestLocalFailureHoldsState(t *testing.T) {
	var (
		mu     sync.Mutex
		called []LocalTrouble
	)
	h := &harness{t: t, clk: healthchecktest.NewFakeClock(t0), probe: newFakeProber()}
	h.c = New(Options{Clock: h.clk, Probers: map[string]Prober{"fake": h.probe}, Rand: half,
		OnLocalTrouble: func(lt LocalTrouble) { mu.Lock(); called = append(called, lt); mu.Unlock() }})
	h.sub = h.c.Subscribe()
	t.Cleanup(func() { h.c.Stop(); h.sub.Close() })

	emfile := &ProbeError{Op: "connect", Err: os.NewSyscallError("socket", syscall.EMFILE)}
	tg := target("192.0.2.1:80", Spec{Fall: 2})
	h.set(tg)
	key := tg.Key()
	h.c.Start(context.Background())
	h.park(1)
	if ev := h.events(1); ev[0].New != Up {
		t.Fatalf("first result: %v", ev)
	}

	h.probe.set(tg.Addr, emfile)
	for i := range 5 { // far more than fall
		d := h.tick(1)
		if i > 0 && d != DefaultFastInterval {
			t.Fatalf("retry after a local failure in %v, want the fast interval %v", d, DefaultFastInterval)
		}
		if got := h.c.State(key); got != Up {
			t.Fatalf("after %d local failures: %v, want up", i+1, got)
		}
	}
	st, _ := h.c.Status(key)
	if st.Failures != 0 || st.LastErr != "" || st.LocalErr != "connect: too many open files" || st.LocalSince.IsZero() {
		t.Fatalf("status %+v: want no failures counted and the local error shown", st)
	}
	lt := h.c.LocalTrouble()
	if lt.Targets != 1 || lt.Total != 5 || lt.Since.IsZero() || lt.LastErr != "connect: too many open files" {
		t.Fatalf("trouble %+v", lt)
	}

	// The first probe that gets through ends the trouble and counts
	// normally: one real failure makes the target suspect, not down.
	h.probe.set(tg.Addr, errFake)
	h.tick(1)
	if got := h.c.State(key); got != Suspect {
		t.Fatalf("after one real failure: %v, want suspect", got)
	}
	if ev := h.events(1); ev[0].New != Suspect || ev[0].Reason != "fake: refused" {
		t.Fatalf("events %v", ev)
	}
	lt = h.c.LocalTrouble()
	if lt.Targets != 0 || !lt.Since.IsZero() || lt.Total != 5 {
		t.Fatalf("trouble after recovery %+v", lt)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(called) != 2 || called[0].Targets != 1 || called[1].Targets != 0 {
		t.Fatalf("OnLocalTrouble calls %+v, want begin and end", called)
	}
}

// TestLocalFailureFirstProbe: a target whose first probe fails locally stays
// unknown (handed out, and not counted as checked for readiness).
func TestLocalFailureFirstProbe(t *testing.T) {
	h := newHarness(t)
	tg := target("192.0.2.1:80", Spec{})
	h.probe.set(tg.Addr, &ProbeError{Op: "dns", Err: syscall.ENOBUFS})
	h.set(tg)
	h.c.Start(context.Background())
	h.park(1)
	if got := h.c.State(tg.Key()); got != Unknown {
		t.Fatalf("state %v, want unknown", got)
	}
	if h.c.Ready() {
		t.Fatal("ready with no real result")
	}
	// Removing the target ends its trouble.
	h.set()
	if lt := h.c.LocalTrouble(); lt.Targets != 0 {
		t.Fatalf("trouble after removal %+v", lt)
	}
}
