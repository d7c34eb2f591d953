package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Defaults of the Dialer's fields.
const (
	// DefaultAttemptTimeout bounds one connection attempt to one address.
	DefaultAttemptTimeout = 2 * time.Second
	// DefaultStagger is how long an attempt runs alone before the next
	// starts beside it: RFC 8305's recommended Connection Attempt Delay.
	DefaultStagger = 250 * time.Millisecond
	// DefaultPenalty is how long an address that failed is tried last. It
	// matches hadns's default TTL: by then the DNS answer a client holds
	// no longer lists a backend that hadns found down.
	DefaultPenalty = 10 * time.Second
)

// Dialer connects to a service by its SRV name, or to a plain host:port.
//
// For a service it tries the targets in RFC 2782 order (see Order), every
// address of a target before the next target. An attempt that has not
// connected after Stagger gets company: the next address is tried beside
// it (Happy Eyeballs, RFC 8305); an attempt that fails starts the next at
// once. The first connection made is returned and the others are closed.
// An address whose attempt failed is tried last for Penalty, unless
// nothing else is left.
//
// The zero value is ready to use, with the defaults of each field. A
// Dialer is safe for concurrent use; its fields must not change after the
// first dial.
type Dialer struct {
	// Resolver looks service names up. Default: one shared Resolver with
	// the system's nameservers.
	Resolver *Resolver
	// Net connects to one address; its LocalAddr, KeepAlive, Control and
	// so on apply to every connection. Its Timeout is ignored for services
	// (AttemptTimeout bounds each attempt). Default: a zero net.Dialer.
	Net *net.Dialer
	// DialAddr, when set, connects to one address instead of Net: for a
	// proxy, or a test.
	DialAddr func(ctx context.Context, network, address string) (net.Conn, error)
	// AttemptTimeout bounds one connection attempt. Default 2 s.
	AttemptTimeout time.Duration
	// Stagger is how long an attempt runs before the next starts beside it.
	// Default 250 ms.
	Stagger time.Duration
	// Penalty is how long an address that failed is tried last. Default
	// 10 s; negative: no penalty.
	Penalty time.Duration
	// Rand orders targets of equal priority by weight. Default: the
	// math/rand/v2 top-level source. The Dialer locks around its use.
	Rand *rand.Rand
	// Clock measures the stagger and the penalties. Default: the system
	// clock.
	Clock Clock

	randMu sync.Mutex
	box    penaltyBox
}

// DialError is the error of a dial to a service when no target connected.
type DialError struct {
	Service string
	// Errs has one error per address tried (or target that could not be
	// resolved), in the order they ended.
	Errs []error
}

// Error lists the attempts that failed.
func (e *DialError) Error() string {
	if len(e.Errs) == 0 {
		return "dial " + e.Service + ": no target addresses"
	}
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return "dial " + e.Service + ": no target connected: " + strings.Join(msgs, "; ")
}

// Unwrap returns the errors of the attempts.
func (e *DialError) Unwrap() []error { return e.Errs }

// Dial connects to address with a background context; see DialContext.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to address over network ("tcp", "tcp4", "tcp6").
// An address with a port ("host:port") is dialed as net.Dialer would;
// one without is a service name whose SRV records name the targets
// ("_http._tcp.api.example.test.").
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if _, _, err := net.SplitHostPort(address); err == nil {
		return d.netDialer().DialContext(ctx, network, address)
	}
	addrs, errs, err := d.candidates(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	if len(addrs) == 0 {
		return nil, &DialError{Service: address, Errs: errs}
	}
	return d.race(ctx, network, address, addrs)
}

// Penalize passes addr ("ip:port") over for the penalty time, as after a
// failed dial. Transport calls it when a connection to addr failed before
// a response arrived.
func (d *Dialer) Penalize(addr string) {
	d.box.add(addr, clockOr(d.Clock).Now(), d.penalty())
}

// candidates returns the addresses to try for a service, in order:
// targets in RFC 2782 order, each target's addresses in turn, penalized
// addresses last. errs has one error per target that could not be
// resolved.
func (d *Dialer) candidates(ctx context.Context, network, service string) (addrs []string, errs []error, err error) {
	r := d.Resolver
	if r == nil {
		r = defaultResolver
	}
	targets, err := r.LookupSRV(ctx, service)
	if err != nil {
		return nil, nil, err
	}
	targets = d.order(targets)
	seen := map[string]bool{}
	var penalized []string
	now := clockOr(d.Clock).Now()
	for _, t := range targets {
		ips := t.Addrs
		if len(ips) == 0 {
			if ips, err = r.LookupAddrs(ctx, network, t.Host); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t.Host, err))
				continue
			}
		}
		for _, ip := range ips {
			if !familyOK(network, ip) {
				continue
			}
			a := netip.AddrPortFrom(ip, t.Port).String()
			if seen[a] {
				continue
			}
			seen[a] = true
			if d.box.penalized(a, now) {
				penalized = append(penalized, a)
			} else {
				addrs = append(addrs, a)
			}
		}
	}
	return append(addrs, penalized...), errs, nil
}

func (d *Dialer) order(ts []Target) []Target {
	if d.Rand == nil {
		return Order(ts, rand.IntN)
	}
	d.randMu.Lock()
	defer d.randMu.Unlock()
	return Order(ts, d.Rand.IntN)
}

// attempt is the end of one connection attempt.
type attempt struct {
	addr string
	conn net.Conn
	err  error
}

// race connects to addrs in order, Happy Eyeballs style, and returns the
// first connection made.
func (d *Dialer) race(ctx context.Context, network, service string, addrs []string) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	clock := clockOr(d.Clock)
	// Buffered for every attempt, so one that ends after we returned
	// never blocks; its connection is closed by the drain below.
	results := make(chan attempt, len(addrs))
	next, running := 0, 0
	var stagger Timer
	var staggerC <-chan time.Time
	start := func() {
		addr := addrs[next]
		next++
		running++
		go func() {
			actx, acancel := context.WithTimeout(ctx, d.attemptTimeout())
			defer acancel()
			conn, err := d.dialAddr(actx, network, addr)
			results <- attempt{addr: addr, conn: conn, err: err}
		}()
		if stagger != nil {
			stagger.Stop()
		}
		stagger, staggerC = nil, nil
		if next < len(addrs) {
			stagger = clock.NewTimer(d.stagger())
			staggerC = stagger.C()
		}
	}
	defer func() {
		if stagger != nil {
			stagger.Stop()
		}
	}()

	start()
	var errs []error
	done := ctx.Done()
	for running > 0 {
		select {
		case res := <-results:
			running--
			if res.err == nil {
				d.box.clear(res.addr)
				go closeLate(results, running)
				return res.conn, nil
			}
			if ctx.Err() == nil {
				// The address failed on its own (refused, unreachable,
				// silent past AttemptTimeout), not because we gave up.
				d.box.add(res.addr, clock.Now(), d.penalty())
			}
			errs = append(errs, fmt.Errorf("%s: %w", res.addr, res.err))
			if next < len(addrs) && ctx.Err() == nil {
				start()
			}
		case <-staggerC:
			if ctx.Err() == nil {
				start()
			}
		case <-done:
			// The attempts see it too and end soon; collect them.
			done, staggerC = nil, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("dial %s: %w", service, err)
	}
	return nil, &DialError{Service: service, Errs: errs}
}

// closeLate closes the connections of the n attempts still running after
// one won; race cancelled their context, so they end soon.
func closeLate(results <-chan attempt, n int) {
	for range n {
		if res := <-results; res.conn != nil {
			res.conn.Close()
		}
	}
}

func (d *Dialer) dialAddr(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.DialAddr != nil {
		return d.DialAddr(ctx, network, addr)
	}
	return d.netDialer().DialContext(ctx, network, addr)
}

func (d *Dialer) netDialer() *net.Dialer {
	if d.Net != nil {
		return d.Net
	}
	return &net.Dialer{}
}

func (d *Dialer) attemptTimeout() time.Duration {
	if d.AttemptTimeout > 0 {
		return d.AttemptTimeout
	}
	return DefaultAttemptTimeout
}

func (d *Dialer) stagger() time.Duration {
	if d.Stagger > 0 {
		return d.Stagger
	}
	return DefaultStagger
}

func (d *Dialer) penalty() time.Duration {
	switch {
	case d.Penalty < 0:
		return 0
	case d.Penalty == 0:
		return DefaultPenalty
	}
	return d.Penalty
}

// familyOK reports whether ip can be dialed over network.
func familyOK(network string, ip netip.Addr) bool {
	switch network {
	case "tcp4", "udp4":
		return ip.Is4() || ip.Is4In6()
	case "tcp6", "udp6":
		return ip.Is6() && !ip.Is4In6()
	}
	return true
}
