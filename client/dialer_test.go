package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// setTargets makes s answer srvName with targets at the given loopback
// "ip:port" addresses, priority 1, 2, ... in order, TTL 3600.
func setTargets(s *testDNS, addrs ...string) {
	var r reply
	for i, a := range addrs {
		ip, port, _ := net.SplitHostPort(a)
		host := fmt.Sprintf("t%d.api.test.", i)
		r.answer = append(r.answer, rr(fmt.Sprintf("%s 3600 IN SRV %d 0 %s %s", srvName, i+1, port, host)))
		r.extra = append(r.extra, rr(fmt.Sprintf("%s 3600 IN A %s", host, ip)))
	}
	s.set(srvName, dns.TypeSRV, r)
}

// listen returns a loopback listener that accepts connections until the
// test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return l
}

// deadAddr returns a loopback address where nothing listens: connections
// are refused.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

// recordingDial dials for real and records the addresses tried.
type recordingDial struct {
	mu    sync.Mutex
	tried []string
}

func (r *recordingDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	r.tried = append(r.tried, addr)
	r.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (r *recordingDial) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.tried
	r.tried = nil
	return out
}

// TestDialerFailoverAndPenalty: a refused target is passed over for the
// next; for the penalty time it is tried last, then first again; and a
// penalized target is still used when nothing else is left.
func TestDialerFailoverAndPenalty(t *testing.T) {
	s := startDNS(t)
	dead, live := deadAddr(t), listen(t).Addr().String()
	setTargets(s, dead, live)
	r, clock, _ := testResolver(s)
	rec := &recordingDial{}
	d := &Dialer{Resolver: r, Clock: clock, DialAddr: rec.dial}

	dial := func(what string, wantTried ...string) {
		t.Helper()
		c, err := d.DialContext(context.Background(), "tcp", srvName)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		c.Close()
		if got := c.RemoteAddr().String(); got != live {
			t.Errorf("%s: connected to %s, want %s", what, got, live)
		}
		if tried := rec.take(); !slices.Equal(tried, wantTried) {
			t.Errorf("%s: tried %v, want %v", what, tried, wantTried)
		}
	}
	dial("first dial", dead, live)
	clock.Advance(DefaultPenalty - time.Millisecond)
	dial("within the penalty", live)
	clock.Advance(time.Millisecond)
	dial("penalty over", dead, live)

	// Both penalized: the order among them is the SRV order again.
	d.Penalize(live)
	dial("everything penalized", dead, live)
	// The live one connected, so its penalty is lifted at once.
	dial("live cleared", live)
}

// blockingDial is a DialAddr whose attempts are controlled by the test:
// each address's attempt reports that it started, then waits for a result
// from the test (or for its context to end, if honourCtx).
type blockingDial struct {
	t         *testing.T
	started   chan string
	results   map[string]chan attempt
	honourCtx map[string]bool
	ended     chan attempt // attempts that ended, with their error
}

func newBlockingDial(t *testing.T, addrs ...string) *blockingDial {
	b := &blockingDial{t: t, started: make(chan string, 8), results: map[string]chan attempt{},
		honourCtx: map[string]bool{}, ended: make(chan attempt, 8)}
	for _, a := range addrs {
		b.results[a] = make(chan attempt, 1)
	}
	return b
}

func (b *blockingDial) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	b.started <- addr
	var res attempt
	if b.honourCtx[addr] {
		select {
		case res = <-b.results[addr]:
		case <-ctx.Done():
			res.err = ctx.Err()
		}
	} else {
		res = <-b.results[addr]
	}
	b.ended <- attempt{addr: addr, err: res.err}
	return res.conn, res.err
}

func (b *blockingDial) waitStart(want string) {
	b.t.Helper()
	select {
	case a := <-b.started:
		if a != want {
			b.t.Fatalf("attempt on %s started, want %s", a, want)
		}
	case <-time.After(10 * time.Second):
		b.t.Fatalf("no attempt on %s within 10s", want)
	}
}

func (b *blockingDial) noStart() {
	b.t.Helper()
	select {
	case a := <-b.started:
		b.t.Fatalf("attempt on %s started too early", a)
	default:
	}
}

type dialResult struct {
	conn net.Conn
	err  error
}

func dialAsync(d *Dialer) <-chan dialResult {
	ch := make(chan dialResult, 1)
	go func() {
		c, err := d.DialContext(context.Background(), "tcp", srvName)
		ch <- dialResult{c, err}
	}()
	return ch
}

func waitDial(t *testing.T, ch <-chan dialResult) dialResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("DialContext did not return within 10s")
	}
	return dialResult{}
}

const (
	addrA = "127.0.0.1:8001"
	addrB = "127.0.0.2:8002"
	addrC = "127.0.0.3:8003"
)

// TestDialerStagger: the next target is tried beside a slow first one
// after Stagger, not before; the first connection made wins and the
// attempts still running are cancelled, without a penalty.
func TestDialerStagger(t *testing.T) {
	s := startDNS(t)
	setTargets(s, addrA, addrB, addrC)
	r, clock, _ := testResolver(s)
	b := newBlockingDial(t, addrA, addrB, addrC)
	b.honourCtx[addrA] = true
	d := &Dialer{Resolver: r, Clock: clock, DialAddr: b.dial}

	done := dialAsync(d)
	b.waitStart(addrA)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.waitTimers(ctx, 1); err != nil {
		t.Fatal("no stagger timer armed")
	}
	clock.Advance(DefaultStagger - time.Millisecond)
	b.noStart()
	clock.Advance(time.Millisecond)
	b.waitStart(addrB)

	mine, peer := net.Pipe()
	defer peer.Close()
	b.results[addrB] <- attempt{conn: mine}
	res := waitDial(t, done)
	if res.err != nil || res.conn != mine {
		t.Fatalf("DialContext: %v, %v; want B's connection", res.conn, res.err)
	}
	res.conn.Close()
	// B's success ended A's attempt (its context was cancelled).
	for i := 0; i < 2; i++ {
		select {
		case e := <-b.ended:
			if e.addr == addrA && !errors.Is(e.err, context.Canceled) {
				t.Errorf("A's attempt ended with %v, want context.Canceled", e.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("attempts did not end")
		}
	}
	b.noStart() // C was never needed
	if d.box.penalized(addrA, clock.Now()) {
		t.Errorf("A is penalized; it was only cancelled")
	}
}

// TestDialerFailureStartsNextAtOnce: a failed attempt starts the next
// without waiting for the stagger, and the failed address is penalized.
func TestDialerFailureStartsNextAtOnce(t *testing.T) {
	s := startDNS(t)
	setTargets(s, addrA, addrB)
	r, clock, _ := testResolver(s)
	b := newBlockingDial(t, addrA, addrB)
	d := &Dialer{Resolver: r, Clock: clock, DialAddr: b.dial}

	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	b.results[addrA] <- attempt{err: refused}
	mine, peer := net.Pipe()
	defer peer.Close()
	b.results[addrB] <- attempt{conn: mine}
	res := waitDial(t, dialAsync(d)) // the clock never moves
	if res.err != nil || res.conn != mine {
		t.Fatalf("DialContext: %v, %v; want B's connection", res.conn, res.err)
	}
	res.conn.Close()
	if !d.box.penalized(addrA, clock.Now()) {
		t.Errorf("A refused the connection but is not penalized")
	}
}

// TestDialerClosesLateWinners: a connection made after another won is
// closed, not leaked.
func TestDialerClosesLateWinners(t *testing.T) {
	s := startDNS(t)
	setTargets(s, addrA, addrB)
	r, clock, _ := testResolver(s)
	b := newBlockingDial(t, addrA, addrB)
	d := &Dialer{Resolver: r, Clock: clock, DialAddr: b.dial}

	done := dialAsync(d)
	b.waitStart(addrA)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clock.waitTimers(ctx, 1); err != nil {
		t.Fatal("no stagger timer armed")
	}
	clock.Advance(DefaultStagger)
	b.waitStart(addrB)

	winner, winnerPeer := net.Pipe()
	defer winnerPeer.Close()
	b.results[addrA] <- attempt{conn: winner}
	res := waitDial(t, done)
	if res.err != nil || res.conn != winner {
		t.Fatalf("DialContext: %v, %v; want A's connection", res.conn, res.err)
	}
	defer res.conn.Close()

	late, latePeer := net.Pipe()
	defer latePeer.Close()
	b.results[addrB] <- attempt{conn: late} // connects although cancelled
	latePeer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := latePeer.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("late connection: read %v, want EOF (closed by the dialer)", err)
	}
}

// TestDialerAllFail: when every target fails, the error lists them all.
func TestDialerAllFail(t *testing.T) {
	s := startDNS(t)
	a, b := deadAddr(t), deadAddr(t)
	setTargets(s, a, b)
	r, clock, _ := testResolver(s)
	d := &Dialer{Resolver: r, Clock: clock}
	_, err := d.DialContext(context.Background(), "tcp", srvName)
	var de *DialError
	if !errors.As(err, &de) || len(de.Errs) != 2 || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("DialContext: %v; want a DialError with two refusals", err)
	}
}

// TestDialerLookupError: a service without SRV records is an error that
// says so.
func TestDialerLookupError(t *testing.T) {
	s := startDNS(t)
	r, clock, _ := testResolver(s)
	d := &Dialer{Resolver: r, Clock: clock}
	_, err := d.DialContext(context.Background(), "tcp", "_x._tcp.missing.test.")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("DialContext: %v; want a not-found DNS error", err)
	}
}

// TestDialerPlainAddress: host:port is dialed directly, without DNS.
func TestDialerPlainAddress(t *testing.T) {
	s := startDNS(t)
	live := listen(t).Addr().String()
	r, clock, _ := testResolver(s)
	d := &Dialer{Resolver: r, Clock: clock}
	c, err := d.DialContext(context.Background(), "tcp", live)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c.RemoteAddr().String() != live {
		t.Errorf("connected to %s, want %s", c.RemoteAddr(), live)
	}
	s.mu.Lock()
	n := len(s.queries)
	s.mu.Unlock()
	if n != 0 {
		t.Errorf("%d names queried for a plain address, want none", n)
	}
}
