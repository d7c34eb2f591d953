package healthcheck_test

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	// These tests drive a Checker on healthchecktest.FakeClock, and
	// healthchecktest imports healthcheck, so they are in the external test
	// package (as are checker_test.go, localstate_test.go and
	// watch_confirm_test.go). They read as if inside it through a dot
	// import, the one use Go's code review comments allow it.
	. "github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/healthcheck/healthchecktest"
)

// fakeProber returns, per probe address, whatever result the test set last.
// Unset addresses succeed.
type fakeProber struct {
	mu      sync.Mutex
	results map[netip.AddrPort]error
	calls   map[netip.AddrPort]int
	block   chan struct{} // when non-nil, Check waits on it
}

func newFakeProber() *fakeProber {
	return &fakeProber{results: map[netip.AddrPort]error{}, calls: map[netip.AddrPort]int{}}
}

func (p *fakeProber) set(a netip.AddrPort, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.results[a] = err
}

func (p *fakeProber) count(a netip.AddrPort) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[a]
}

func (p *fakeProber) Check(ctx context.Context, t Target) error {
	p.mu.Lock()
	p.calls[t.Addr]++
	err := p.results[t.Addr]
	block := p.block
	p.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

var errFake = errors.New("fake: refused")

// harness drives a Checker with a FakeClock and a fakeProber.
type harness struct {
	t     *testing.T
	clk   *healthchecktest.FakeClock
	c     *Checker
	probe *fakeProber
	sub   *Subscription
}

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// half makes jitter deterministic: every delay is exactly its base, and the
// first-result stagger exactly half of it.
func half(n int64) int64 { return n / 2 }

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, clk: healthchecktest.NewFakeClock(t0), probe: newFakeProber()}
	h.c = New(Options{Clock: h.clk, Probers: map[string]Prober{"fake": h.probe}, Rand: half})
	h.sub = h.c.Subscribe()
	t.Cleanup(func() { h.c.Stop(); h.sub.Close() })
	return h
}

// set calls Set and fails the test on a refused target.
func (h *harness) set(targets ...Target) {
	h.t.Helper()
	if err := h.c.Set(targets); err != nil {
		h.t.Fatal(err)
	}
}

func target(addr string, s Spec) Target {
	if s.Kind == "" {
		s.Kind = "fake"
	}
	return Target{Addr: netip.MustParseAddrPort(addr), Spec: new(s)}
}

// park waits until n loops are parked on their timers.
func (h *harness) park(n int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.clk.BlockUntil(ctx, n); err != nil {
		h.t.Fatalf("waiting for %d parked loops (have %d): %v", n, h.clk.Pending(), err)
	}
}

// tick fires the earliest timer, waits for the loops to park again (n of
// them), and returns the delay it advanced by.
func (h *harness) tick(n int) time.Duration {
	h.t.Helper()
	d, ok := h.clk.NextTimer()
	if !ok {
		h.t.Fatal("no timer armed")
	}
	h.clk.Advance(d)
	h.park(n)
	return d
}

// events waits until n events are pending and returns them.
func (h *harness) events(n int) []Event {
	h.t.Helper()
	var got []Event
	deadline := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case <-h.sub.C():
			got = append(got, h.sub.Events()...)
		case <-deadline:
			h.t.Fatalf("got %d events, want %d: %v", len(got), n, got)
		}
	}
	if len(got) > n {
		h.t.Fatalf("got %d events, want %d: %v", len(got), n, got)
	}
	return got
}
