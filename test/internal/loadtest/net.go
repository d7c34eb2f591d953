package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// FreePort returns a port free on 127.0.0.1 for both UDP and TCP at the
// moment of the call (a server started on it may still race; callers retry).
func FreePort() (int, error) {
	for i := 0; i < 20; i++ {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free on both UDP and TCP")
}

// Listeners are loopback TCP listeners that accept and close every
// connection: healthy backends for tcp checks.
type Listeners struct {
	Addrs []string // the listening addresses, in the order asked for
	lns   []net.Listener
	wg    sync.WaitGroup
}

// Listen opens a listener on each address ("127.0.60.1:0" picks a port);
// when an address's port is taken, another port of the same host. On error
// the ones already open are closed.
func Listen(addrs []string) (*Listeners, error) {
	l := &Listeners{}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			if host, _, serr := net.SplitHostPort(a); serr == nil {
				ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
			}
		}
		if err != nil {
			l.Close()
			return nil, err
		}
		l.lns = append(l.lns, ln)
		l.Addrs = append(l.Addrs, ln.Addr().String())
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return l, nil
}

// Close stops every listener and waits for their goroutines.
func (l *Listeners) Close() {
	for _, ln := range l.lns {
		ln.Close()
	}
	l.wg.Wait()
}

// Query sends one UDP query (no recursion, EDNS0 when edns) and returns
// the reply; a lost datagram is retried twice.
func Query(addr, qname string, qtype uint16, edns bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(qname), qtype)
	m.RecursionDesired = false
	if edns {
		m.SetEdns0(1232, false)
	}
	cl := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	var r *dns.Msg
	var err error
	for try := 0; try < 3; try++ {
		if r, _, err = cl.Exchange(m, addr); err == nil {
			return r, nil
		}
	}
	return nil, err
}

// WaitAnswer polls qname every poll until done(reply) holds, and returns
// how long after start that was; an error after limit or when ctx ends.
func WaitAnswer(ctx context.Context, addr, qname string, qtype uint16, poll time.Duration, start time.Time, limit time.Duration, done func(*dns.Msg) bool) (time.Duration, error) {
	deadline := start.Add(limit)
	var last *dns.Msg
	var err error
	for ctx.Err() == nil {
		last, err = Query(addr, qname, qtype, true)
		now := time.Now()
		if err == nil && done(last) {
			return now.Sub(start), nil
		}
		if now.After(deadline) {
			if err == nil {
				err = fmt.Errorf("last answer:\n%v", last)
			}
			return 0, fmt.Errorf("%s %s not as wanted within %v: %w", qname, dns.TypeToString[qtype], limit, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(poll):
		}
	}
	return 0, context.Cause(ctx)
}
