package healthcheck

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// watchSpec polls so rarely that any detection within the test's limits can
// only come from the held connection.
var watchSpec = Spec{Kind: "watch", Interval: time.Minute, Timeout: time.Second, FastInterval: 50 * time.Millisecond, DownInterval: 200 * time.Millisecond}

// TestWatchKilledProcess kills a real backend process with SIGKILL: the
// kernel resets its connections, and the target is Down at once, with no
// probe interval in between.
func TestWatchKilledProcess(t *testing.T) {
	cmd, addr := startBackendProcess(t)
	tg := Target{Addr: addr, Spec: new(watchSpec)}
	c, w := runChecker(t, tg)
	w.next(t, Up, 5*time.Second)

	killed := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e := w.next(t, Down, 5*time.Second)
	lat := e.Time.Sub(killed)
	t.Logf("SIGKILL to down: %v (%s)", lat, e.Reason)
	if lat > time.Second {
		t.Fatalf("down %v after the kill; a held connection should see it at once", lat)
	}
	if e.Reason != "watch: connection reset" && e.Reason != "watch: connection closed by peer" {
		t.Fatalf("reason %q", e.Reason)
	}
	if c.State(tg.Key()) != Down {
		t.Fatalf("state %v", c.State(tg.Key()))
	}
}

// closableBackend accepts connections on a loopback port and can drop them
// all and stop listening (a crash), then listen again on the same port.
type closableBackend struct {
	t     *testing.T
	addr  netip.AddrPort
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newClosableBackend(t *testing.T) *closableBackend {
	b := &closableBackend{t: t}
	b.start("127.0.0.1:0")
	b.addr = addrOf(t, b.ln.Addr())
	t.Cleanup(b.crash)
	return b
}

func (b *closableBackend) start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		b.t.Fatal(err)
	}
	b.mu.Lock()
	b.ln = ln
	b.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			go serveLines(c)
		}
	}()
}

func (b *closableBackend) crash() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln != nil {
		b.ln.Close()
	}
	for _, c := range b.conns {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	b.conns = nil
}

// waitConns waits until the backend has accepted n connections since its
// last crash: the checker's event can come before the accept goroutine has
// recorded the connection, and a crash must not miss it.
func (b *closableBackend) waitConns(n int) {
	b.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.connCount() < n {
		if time.Now().After(deadline) {
			b.t.Fatalf("backend has %d connections, want %d", b.connCount(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (b *closableBackend) connCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// TestWatchRecovers: a crash is down at once; once the backend listens
// again, the target is up after rise good reconnects, and holds the last.
func TestWatchRecovers(t *testing.T) {
	b := newClosableBackend(t)
	tg := Target{Addr: b.addr, Spec: new(watchSpec)}
	c, w := runChecker(t, tg)
	w.next(t, Up, 5*time.Second)
	b.waitConns(1)
	b.crash()
	crashed := time.Now()
	e := w.next(t, Down, 5*time.Second)
	if lat := e.Time.Sub(crashed); lat > time.Second {
		t.Fatalf("down %v after the crash", lat)
	}
	b.start(b.addr.String())
	e = w.next(t, Up, 5*time.Second)
	if e.Old != Down {
		t.Fatalf("recovery event %+v", e)
	}
	st, _ := c.Status(tg.Key())
	if st.Successes < 2 {
		t.Fatalf("up after %d good reconnects, rise is 2", st.Successes)
	}
	// The first good reconnect was closed again; the one that made it Up is
	// held: a new crash is again seen at once.
	b.waitConns(2)
	b.crash()
	w.next(t, Down, 5*time.Second)
}

func TestWatchSendExpect(t *testing.T) {
	b := newClosableBackend(t)
	ok := Target{Addr: b.addr, Spec: &Spec{Kind: "watch", Send: "ping", Expect: "pong"}}
	wantErr(t, probe(t, ok, 2*time.Second), "")
	bad := Target{Addr: b.addr, Spec: &Spec{Kind: "watch", Send: "ping", Expect: "ready"}}
	wantErr(t, probe(t, bad, 2*time.Second), `watch: expected "ready", got "pong"`)
	silent := Target{Addr: b.addr, Spec: &Spec{Kind: "watch", Expect: "hello"}}
	err := probe(t, silent, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("expect from a silent backend: %v", err)
	}
	wantErr(t, probe(t, Target{Addr: boundSocket(t), Spec: &Spec{Kind: "watch"}}, time.Second), "connect: connection refused")
}

// TestWatchHoldsOneConnection: while up, the watch holds exactly one
// connection and does not poll.
func TestWatchHoldsOneConnection(t *testing.T) {
	b := newClosableBackend(t)
	_, w := runChecker(t, Target{Addr: b.addr, Spec: new(watchSpec)})
	w.next(t, Up, 5*time.Second)
	b.waitConns(1)
	// Six fast intervals: a polling or reconnecting watch would show here.
	time.Sleep(6 * watchSpec.FastInterval)
	if n := b.connCount(); n != 1 {
		t.Fatalf("%d connections accepted, want 1", n)
	}
}

func TestWatchUserTimeout(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		count    int
		want     time.Duration
	}{
		{time.Second, 1, 1500 * time.Millisecond},
		{time.Second, 2, 2500 * time.Millisecond},
		{3 * time.Second, 1, 4500 * time.Millisecond},
	} {
		s := Spec{Kind: "watch", KeepaliveInterval: tc.interval, KeepaliveCount: tc.count}
		if got := watchUserTimeout(s); got != tc.want {
			t.Errorf("%v x %d: %v, want %v", tc.interval, tc.count, got, tc.want)
		}
		// It must fall between firing count (count-1 probes out) and
		// firing count+1 (count probes out).
		if got := watchUserTimeout(s); got <= tc.interval*time.Duration(tc.count) || got > tc.interval*time.Duration(tc.count+1) {
			t.Errorf("%v x %d: %v not in (count, count+1] intervals", tc.interval, tc.count, got)
		}
	}
}
