package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestIsLocal(t *testing.T) {
	emfile := &ProbeError{Op: "connect", Err: os.NewSyscallError("socket", syscall.EMFILE)}
	tests := []struct {
		name string
		err  error
		want bool
		kind string
	}{
		{"nil", nil, false, "other"},
		{"refused", &ProbeError{Op: "connect", Err: syscall.ECONNREFUSED}, false, "other"},
		{"timeout", errConnectTimeout, false, "other"},
		{"status", &ProbeError{Op: "http", Err: errors.New("status 503")}, false, "other"},
		{"socket EMFILE", emfile, true, "EMFILE"},
		{"dial ENFILE", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.ENFILE)}, true, "ENFILE"},
		{"http EMFILE", &ProbeError{Op: "http", Err: &url.Error{Op: "Get", URL: "http://x/", Err: &net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}}}, true, "EMFILE"},
		{"ENOBUFS", fmt.Errorf("write: %w", syscall.ENOBUFS), true, "ENOBUFS"},
		{"ENOMEM", syscall.ENOMEM, true, "ENOMEM"},
		{"no port", &ProbeError{Op: "connect", Err: syscall.EADDRNOTAVAIL}, true, "EADDRNOTAVAIL"},
		{"epoll", &ProbeError{Op: "connect", Err: &localError{os.NewSyscallError("epoll_ctl", syscall.ENOSPC)}}, true, "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsLocal(tc.err); got != tc.want {
				t.Errorf("IsLocal(%v) = %v, want %v", tc.err, got, tc.want)
			}
			if tc.want {
				if got := LocalErrorName(tc.err); got != tc.kind {
					t.Errorf("LocalErrorName(%v) = %q, want %q", tc.err, got, tc.kind)
				}
			}
		})
	}
	if got := emfile.Error(); got != "connect: too many open files" {
		t.Errorf("text %q", got)
	}
}

// TestLocalFailureHoldsState: a probe that fails on the checker's side
// (out of file descriptors) neither moves the target's state nor counts
// towards fall; it is the checker's trouble, which ends with the next probe
// that gets through.
func TestLocalFailureHoldsState(t *testing.T) {
	var (
		mu     sync.Mutex
		called []LocalTrouble
	)
	h := &harness{t: t, clk: NewFakeClock(t0), probe: newFakeProber()}
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

// TestRealEMFILE runs the real probes with the process out of file
// descriptors: their errors must be recognised as local.
func TestRealEMFILE(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := addrOf(t, ln.Addr())
	kinds := []Spec{{Kind: "tcp"}, {Kind: "http"}, {Kind: "dns", QName: "x.test"}, {Kind: "watch"}, {Kind: "tls", Insecure: true}}
	probers := make([]Prober, len(kinds))
	targets := make([]Target, len(kinds))
	for i, s := range kinds {
		targets[i] = Target{Addr: addr, Spec: s.WithDefaults()}
		p := builtinProbers()[s.Kind]
		if b, ok := p.(binder); ok {
			if p, err = b.bind(targets[i]); err != nil {
				t.Fatal(err)
			}
		}
		probers[i] = p
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	// Fill the descriptor table up to a low soft limit, then probe.
	var held []*os.File
	defer func() {
		for _, f := range held {
			f.Close()
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
			t.Errorf("restoring the limit: %v", err)
		}
	}()
	low := syscall.Rlimit{Cur: 256, Max: old.Max}
	if old.Max < low.Cur {
		low.Cur = old.Max
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < int(low.Cur); i++ {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("filling the table: %v", err)
			}
			break
		}
		held = append(held, f)
	}
	for i, p := range probers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var err error
		if w, ok := p.(Watcher); ok {
			var s Session
			if s, err = w.Open(ctx, targets[i]); s != nil {
				s.Close()
			}
		} else {
			err = p.Check(ctx, targets[i])
		}
		cancel()
		if !IsLocal(err) {
			t.Errorf("%s probe out of descriptors: %v, want a local error", kinds[i].Kind, err)
		}
	}
}
