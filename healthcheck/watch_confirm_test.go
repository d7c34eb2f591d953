package healthcheck_test

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/healthcheck/healthchecktest"
)

// fakeWatcher opens sessions that the test ends, and fails opens on demand.
type fakeWatcher struct {
	mu       sync.Mutex
	opens    int
	fail     error             // when set, Open fails with it
	sessions []*fakeSession    // every session opened, in order
	opened   chan *fakeSession // each new session, for the test to end
}

func newFakeWatcher() *fakeWatcher { return &fakeWatcher{opened: make(chan *fakeSession, 16)} }

func (w *fakeWatcher) Check(ctx context.Context, t Target) error {
	s, err := w.Open(ctx, t)
	if err != nil {
		return err
	}
	return s.Close()
}

func (w *fakeWatcher) Open(context.Context, Target) (Session, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.opens++
	if w.fail != nil {
		return nil, w.fail
	}
	s := &fakeSession{end: make(chan error, 1)}
	w.sessions = append(w.sessions, s)
	w.opened <- s
	return s, nil
}

func (w *fakeWatcher) setFail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fail = err
}

func (w *fakeWatcher) openCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.opens
}

type fakeSession struct {
	end    chan error
	mu     sync.Mutex
	closed bool
}

func (s *fakeSession) Wait(ctx context.Context) error {
	select {
	case err := <-s.end:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *fakeSession) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *fakeSession) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

var errLostKeepalive = &ProbeError{Op: "watch", Err: ErrKeepalive}

// watchHarness runs one fake watch target, held Up.
func watchHarness(t *testing.T, spec Spec) (*harness, *fakeWatcher, *fakeSession, string) {
	t.Helper()
	fw := newFakeWatcher()
	h := &harness{t: t, clk: healthchecktest.NewFakeClock(t0), probe: newFakeProber()}
	h.c = New(Options{Clock: h.clk, Probers: map[string]Prober{"fakewatch": fw}, Rand: half})
	h.sub = h.c.Subscribe()
	t.Cleanup(func() { h.c.Stop(); h.sub.Close() })
	spec.Kind = "fakewatch"
	tg := target("192.0.2.1:80", spec)
	if err := h.c.Set([]Target{tg}); err != nil {
		t.Fatal(err)
	}
	h.c.Start(context.Background())
	first := <-fw.opened
	if ev := h.events(1)[0]; ev.New != Up {
		t.Fatalf("first event %v, want up", ev)
	}
	return h, fw, first, tg.Key()
}

func wantEvents(t *testing.T, got []Event, want ...State) {
	t.Helper()
	for i, e := range got {
		if e.New != want[i] {
			t.Fatalf("event %d: %v -> %v (%s), want -> %v; all: %v", i, e.Old, e.New, e.Reason, want[i], got)
		}
	}
}

// TestWatchLostKeepaliveConfirmed: the kernel dropped the connection for an
// unanswered keepalive, but the host answers a reconnect: one lost packet.
// The target is Suspect for the reconnect, then Up, holding the new one.
func TestWatchLostKeepaliveConfirmed(t *testing.T) {
	for _, fall := range []int{1, 2, 3} {
		h, fw, s1, key := watchHarness(t, Spec{Fall: fall})
		s1.end <- errLostKeepalive
		s2 := <-fw.opened
		evs := h.events(2)
		wantEvents(t, evs, Suspect, Up)
		if evs[0].Reason != "watch: keepalive timeout" {
			t.Fatalf("suspect reason %q", evs[0].Reason)
		}
		if !s1.isClosed() || s2.isClosed() {
			t.Fatalf("fall %d: old session closed %v, new one closed %v; want the new one held", fall, s1.isClosed(), s2.isClosed())
		}
		if st, _ := h.c.Status(key); st.State != Up || st.Successes != 1 {
			t.Fatalf("fall %d: status %+v", fall, st)
		}
		// The held reconnect is watched like the first connection: a crash
		// now takes the target Down at once.
		s2.end <- &ProbeError{Op: "watch", Err: syscall.ECONNRESET}
		wantEvents(t, h.events(1), Down)
		h.park(1) // backing off before the next reconnect
		if n := fw.openCount(); n != 2 {
			t.Fatalf("fall %d: %d opens, want 2 (no confirming reconnect after a reset)", fall, n)
		}
	}
}

// TestWatchSilentHostConfirmed: the reconnect fails too, so the host is
// gone: Down, for the keepalive's reason.
func TestWatchSilentHostConfirmed(t *testing.T) {
	h, fw, s1, key := watchHarness(t, Spec{})
	fw.setFail(&ProbeError{Op: "connect", Err: context.DeadlineExceeded})
	s1.end <- errLostKeepalive
	evs := h.events(2)
	wantEvents(t, evs, Suspect, Down)
	if evs[1].Reason != "watch: keepalive timeout" {
		t.Fatalf("down reason %q", evs[1].Reason)
	}
	if n := fw.openCount(); n != 2 {
		t.Fatalf("%d opens, want 2: the first and one confirming reconnect", n)
	}
	// Then the ordinary backoff: FastInterval, and Rise good reconnects.
	h.park(1)
	fw.setFail(nil)
	if d := h.tick(1); d != 200*time.Millisecond {
		t.Fatalf("first reconnect after %v, want the fast interval", d)
	}
	if n := fw.openCount(); n != 3 {
		t.Fatalf("%d opens, want 3", n)
	}
	// The second good reconnect makes it Up and is held: no timer then.
	d, _ := h.clk.NextTimer()
	h.clk.Advance(d)
	wantEvents(t, h.events(1), Up)
	if h.c.State(key) != Up {
		t.Fatalf("state %v", h.c.State(key))
	}
}
