package healthcheck

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestTCPProbe(t *testing.T) {
	ln := listen(t)
	wantErr(t, probe(t, Target{Addr: addrOf(t, ln.Addr())}, time.Second), "")

	err := probe(t, Target{Addr: boundSocket(t)}, time.Second)
	wantErr(t, err, "connect: connection refused")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("%v does not wrap ECONNREFUSED", err)
	}
}

func TestTCPProbeTimeout(t *testing.T) {
	addr := hangingSocket(t)
	start := time.Now()
	err := probe(t, Target{Addr: addr}, 300*time.Millisecond)
	wantErr(t, err, "connect: timeout")
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("connect gave up after %v, before its timeout", el)
	}
}

func TestTCPProbePort(t *testing.T) {
	ln := listen(t)
	// The service port is refused; the check port is the listener's.
	tg := Target{Addr: boundSocket(t), Spec: &Spec{Port: int(addrOf(t, ln.Addr()).Port())}}
	wantErr(t, probe(t, tg, time.Second), "")
}

// TestCheckerTCPDown runs the whole path on the real clock: a listener that
// goes away is confirmed down after a fast-interval confirmation.
func TestCheckerTCPDown(t *testing.T) {
	ln := listen(t)
	tg := Target{Addr: addrOf(t, ln.Addr()), Spec: &Spec{Interval: 300 * time.Millisecond, Timeout: 200 * time.Millisecond, FastInterval: 50 * time.Millisecond}}
	c, w := runChecker(t, tg)
	w.next(t, Up, 5*time.Second)
	ln.Close()
	w.next(t, Suspect, 5*time.Second)
	e := w.next(t, Down, 5*time.Second)
	if e.Reason != "connect: connection refused" {
		t.Fatalf("reason %q", e.Reason)
	}
	if st, _ := c.Status(tg.Key()); st.LastErr != e.Reason || st.Failures != 2 {
		t.Fatalf("status %+v", st)
	}
}

// wallClock is the real time under a type of its own: a Checker given it
// runs tcp targets as it does under any injected Clock (and off Linux), one
// pollLoop each, calling TCPProber.Check.
type wallClock struct{ SystemClock }

// TestCheckerTCPDownWithoutLoop is TestCheckerTCPDown on the path that does
// not use the tcp loop.
func TestCheckerTCPDownWithoutLoop(t *testing.T) {
	ln := listen(t)
	tg := Target{Addr: addrOf(t, ln.Addr()), Spec: &Spec{Interval: 300 * time.Millisecond, Timeout: 200 * time.Millisecond, FastInterval: 50 * time.Millisecond}}
	c := New(Options{Clock: wallClock{}})
	w := &eventWaiter{sub: c.Subscribe()}
	if err := c.Set([]Target{tg}); err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	t.Cleanup(func() { c.Stop(); w.sub.Close() })
	c.mu.Lock()
	for _, e := range c.entries {
		if e.looped {
			t.Errorf("%s runs on the tcp loop under an injected clock", e.key)
		}
	}
	c.mu.Unlock()
	w.next(t, Up, 5*time.Second)
	ln.Close()
	if e := w.next(t, Down, 5*time.Second); e.Reason != "connect: connection refused" {
		t.Fatalf("reason %q", e.Reason)
	}
}
