package healthcheck

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// probeCounter counts OnProbe calls per target address.
type probeCounter struct {
	mu sync.Mutex
	n  map[netip.AddrPort]int
}

func (p *probeCounter) onProbe(t Target, _ time.Duration, _ error) {
	p.mu.Lock()
	p.n[t.Addr]++
	p.mu.Unlock()
}

func (p *probeCounter) count(a netip.AddrPort) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[a]
}

// loopChecker starts a real-clock Checker whose tcp targets run on the
// tcp loop, and checks that they do.
func loopChecker(t *testing.T, targets []Target) (*Checker, *eventWaiter, *probeCounter) {
	t.Helper()
	pc := &probeCounter{n: map[netip.AddrPort]int{}}
	c := New(Options{OnProbe: pc.onProbe})
	w := &eventWaiter{sub: c.Subscribe()}
	if err := c.Set(targets); err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	t.Cleanup(func() { c.Stop(); w.sub.Close() })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tcp == nil {
		t.Fatal("no tcp loop")
	}
	for _, e := range c.entries {
		if !e.looped {
			t.Fatalf("%s runs its own loop", e.key)
		}
	}
	return c, w, pc
}

// TestTCPLoopStates runs up, refused and hanging targets on the loop.
func TestTCPLoopStates(t *testing.T) {
	spec := Spec{Interval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond, FastInterval: 20 * time.Millisecond}
	up := Target{Addr: addrOf(t, listen(t).Addr()), Spec: new(spec)}
	refused := Target{Addr: boundSocket(t), Spec: new(spec)}
	hanging := Target{Addr: hangingSocket(t), Spec: new(spec)}
	c, w, _ := loopChecker(t, []Target{up, refused, hanging})
	want := map[string]string{up.Key(): "ok", refused.Key(): "connect: connection refused", hanging.Key(): "connect: timeout"}
	deadline := time.Now().Add(10 * time.Second)
	for len(want) > 0 && time.Now().Before(deadline) {
		select {
		case <-w.sub.C():
			for _, e := range w.sub.Events() {
				if r, ok := want[e.Key]; ok {
					if e.Reason != r {
						t.Fatalf("%s: %v (%s), want reason %q", e.Key, e.New, e.Reason, r)
					}
					delete(want, e.Key)
				}
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	if len(want) > 0 {
		t.Fatalf("no first result for %v", want)
	}
	if c.State(up.Key()) != Up || c.State(refused.Key()) != Down || c.State(hanging.Key()) != Down {
		t.Fatalf("states: up %v, refused %v, hanging %v", c.State(up.Key()), c.State(refused.Key()), c.State(hanging.Key()))
	}
	if st, _ := c.Status(hanging.Key()); st.LastDuration < spec.Timeout {
		t.Fatalf("timed out after %v, before its timeout %v", st.LastDuration, spec.Timeout)
	}
}

// TestTCPLoopSchedule runs many targets on the loop and checks that each
// keeps its own schedule: probed again and again, never more often than its
// interval allows (as would happen if probes overlapped or a target were
// scheduled twice). A busy machine can only make probes later, so the
// upper bound holds however slow the run.
func TestTCPLoopSchedule(t *testing.T) {
	const n = 100
	interval := 100 * time.Millisecond
	spec := Spec{Interval: interval, Timeout: 80 * time.Millisecond, FastInterval: 20 * time.Millisecond}
	var targets []Target
	for range n / 2 {
		targets = append(targets, Target{Addr: addrOf(t, listen(t).Addr()), Spec: new(spec)})
		targets = append(targets, Target{Addr: boundSocket(t), Spec: new(spec)})
	}
	start := time.Now()
	c, _, pc := loopChecker(t, targets)
	deadline := start.Add(20 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for _, tg := range targets {
			done = done && pc.count(tg.Addr) >= 5
		}
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	// Up targets probe every Interval ±5%; Down ones every DownInterval
	// (= Interval) ±5%, after the first result's stagger and one
	// FastInterval for every pair of results in transition (none here).
	most := int(elapsed/(interval*95/100)) + 2
	for i, tg := range targets {
		got := pc.count(tg.Addr)
		if got < 5 {
			t.Fatalf("target %d probed %d times in %v", i, got, elapsed)
		}
		if got > most {
			t.Fatalf("target %d probed %d times in %v: more than one schedule allows (%d)", i, got, elapsed, most)
		}
		want := Up
		if i%2 == 1 {
			want = Down
		}
		if s := c.State(tg.Key()); s != want {
			t.Fatalf("target %d: %v, want %v", i, s, want)
		}
	}
}

// TestTCPLoopRemove: a target Set removes is probed no more.
func TestTCPLoopRemove(t *testing.T) {
	spec := Spec{Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, FastInterval: 10 * time.Millisecond}
	a := Target{Addr: addrOf(t, listen(t).Addr()), Spec: new(spec)}
	b := Target{Addr: addrOf(t, listen(t).Addr()), Spec: new(spec)}
	c, w, pc := loopChecker(t, []Target{a, b})
	w.next(t, Up, 5*time.Second)
	w.next(t, Up, 5*time.Second)
	if err := c.Set([]Target{b}); err != nil {
		t.Fatal(err)
	}
	removed := pc.count(a.Addr)
	// Wait for b to be probed 5 more times: ample time for a's.
	bStart := pc.count(b.Addr)
	deadline := time.Now().Add(10 * time.Second)
	for pc.count(b.Addr) < bStart+5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if pc.count(b.Addr) < bStart+5 {
		t.Fatal("b stopped too")
	}
	// One probe may have been in flight and finished before the loop
	// took the removal.
	if got := pc.count(a.Addr); got > removed+1 {
		t.Fatalf("a probed %d times after its removal", got-removed)
	}
	if err := c.Set([]Target{a, b}); err != nil {
		t.Fatal(err)
	}
	w.next(t, Up, 5*time.Second) // a again, from Unknown
}

// TestTCPHeap checks the heap against a sort, through pushes, key changes
// and removals.
func TestTCPHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h tcpHeap
	var all []*tcpTarget
	for i := range 2000 {
		switch op := rng.IntN(4); {
		case op < 2 || len(all) == 0:
			x := &tcpTarget{when: rng.Int64N(1000)}
			h.push(x)
			all = append(all, x)
		case op == 2:
			x := all[rng.IntN(len(all))]
			x.when = rng.Int64N(1000)
			h.fix(x)
		default:
			j := rng.IntN(len(all))
			h.remove(all[j])
			all = slices.Delete(all, j, j+1)
		}
		if len(h) != len(all) {
			t.Fatalf("step %d: heap holds %d, want %d", i, len(h), len(all))
		}
		for k, x := range h {
			if x.idx != k {
				t.Fatalf("step %d: index %d at %d", i, x.idx, k)
			}
			if k > 0 && h[(k-1)/2].when > x.when {
				t.Fatalf("step %d: heap order broken at %d", i, k)
			}
		}
	}
	// Popping in order yields the sorted keys.
	want := make([]int64, len(all))
	for i, x := range all {
		want[i] = x.when
	}
	slices.Sort(want)
	for i, w := range want {
		if h[0].when != w {
			t.Fatalf("pop %d: %d, want %d", i, h[0].when, w)
		}
		h.remove(h[0])
	}
}

// TestTCPLoopStopClosesSockets: Stop closes the sockets of probes in flight
// and the loop's own descriptors.
func TestTCPLoopStopClosesSockets(t *testing.T) {
	const n = 8
	spec := Spec{Interval: time.Minute, Timeout: 30 * time.Second}
	var targets []Target
	for range n {
		targets = append(targets, Target{Addr: hangingSocket(t), Spec: new(spec)})
	}
	before := openFiles(t)
	c := New(Options{})
	if err := c.Set(targets); err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for openFiles(t) < before+n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := openFiles(t); got < before+n {
		t.Fatalf("%d descriptors open, want at least %d probes in flight on top of %d", got, n, before)
	}
	c.Stop()
	if got := openFiles(t); got > before {
		t.Fatalf("%d descriptors open after Stop, %d before Start", got, before)
	}
	for _, tg := range targets {
		if st, _ := c.Status(tg.Key()); st.Checked {
			t.Fatalf("a probe abandoned by Stop was recorded: %+v", st)
		}
	}
}

func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestTCPLoopOnSystemClock: the loop serves tcp targets whether the real
// clock is the default or passed as Options.Clock (as the plugin may); only
// another Clock keeps them on their own pollLoop.
func TestTCPLoopOnSystemClock(t *testing.T) {
	tg := Target{Addr: addrOf(t, listen(t).Addr())}
	for _, tc := range []struct {
		clock  Clock
		looped bool
	}{{nil, true}, {SystemClock{}, true}, {wallClock{}, false}} {
		c := New(Options{Clock: tc.clock})
		if err := c.Set([]Target{tg}); err != nil {
			t.Fatal(err)
		}
		c.Start(context.Background())
		c.mu.Lock()
		e := c.entries[tg.Key()]
		looped := e != nil && e.looped
		c.mu.Unlock()
		c.Stop()
		if looped != tc.looped {
			t.Errorf("clock %T: on the tcp loop %v, want %v", tc.clock, looped, tc.looped)
		}
	}
}
