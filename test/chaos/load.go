package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// client is one query source: a loopback source address, and an ECS
// option when set (then the source is outside every site, so only the ECS
// option can place the client).
type client struct {
	name string
	src  netip.Addr
	ecs  netip.Prefix // zero: no ECS
	site int          // the site it belongs to, -1 for none
}

// names maps what an answer can hold to backend indexes: A records by
// address, SRV records by target name.
type names struct {
	byAddr   map[netip.Addr]int
	byTarget map[string]int
}

// worker sends one client's queries, A and SRV in turn, over one UDP
// socket bound to the client's source address, and records every answer.
type worker struct {
	c      client
	idx    int
	conn   *net.UDPConn
	server *net.UDPAddr
	msgs   [2][]byte // packed A and SRV queries; the ID is patched per query
	buf    []byte
	id     uint16
	n      int
}

func newWorker(idx int, c client, server string, qname, srvName string) (*worker, error) {
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: c.src.AsSlice()})
	if err != nil {
		return nil, fmt.Errorf("client %s: %w", c.name, err)
	}
	w := &worker{c: c, idx: idx, conn: conn, server: raddr, buf: make([]byte, 4096), id: uint16(idx * 7919)}
	for i, q := range []struct {
		name  string
		qtype uint16
	}{{qname, dns.TypeA}, {srvName, dns.TypeSRV}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.RecursionDesired = false
		m.SetEdns0(1232, false)
		if c.ecs.IsValid() {
			fam := uint16(1)
			if c.ecs.Addr().Is6() {
				fam = 2
			}
			o := m.IsEdns0()
			o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: fam,
				SourceNetmask: uint8(c.ecs.Bits()), Address: c.ecs.Addr().AsSlice()})
		}
		if w.msgs[i], err = m.Pack(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// query sends the next query and waits for its reply (at most timeout).
func (w *worker) query(t0 time.Time, timeout time.Duration, nm *names) answer {
	i := w.n % 2
	w.n++
	w.id++
	msg := w.msgs[i]
	msg[0], msg[1] = byte(w.id>>8), byte(w.id)
	a := answer{client: w.idx, qtype: dns.TypeA, rcode: rcodeTimeout}
	if i == 1 {
		a.qtype = dns.TypeSRV
	}
	a.sent = time.Since(t0)
	deadline := t0.Add(a.sent + timeout)
	_ = w.conn.SetDeadline(deadline)
	if _, err := w.conn.WriteToUDP(msg, w.server); err != nil {
		a.recv = time.Since(t0)
		return a
	}
	for try := 0; try < 16; try++ { // skip late replies to earlier queries
		n, _, err := w.conn.ReadFromUDP(w.buf)
		if err != nil {
			break
		}
		if n < 2 || w.buf[0] != msg[0] || w.buf[1] != msg[1] {
			continue
		}
		a.recv = time.Since(t0)
		r := new(dns.Msg)
		if err := r.Unpack(w.buf[:n]); err != nil {
			a.rcode = dns.RcodeFormatError // a reply we cannot read counts as an error
			return a
		}
		a.rcode = r.Rcode
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				ip, _ := netip.AddrFromSlice(rr.A.To4())
				if b, ok := nm.byAddr[ip]; ok {
					a.backends |= 1 << b
					continue
				}
				a.unknown++
			case *dns.SRV:
				if b, ok := nm.byTarget[dns.CanonicalName(rr.Target)]; ok {
					a.backends |= 1 << b
					continue
				}
				a.unknown++
			default:
				a.unknown++
			}
		}
		return a
	}
	a.recv = time.Since(t0)
	return a
}

// runLoad sends queries from every worker until ctx ends: at qps in total,
// or as fast as replies come when qps is 0. It returns every answer.
func runLoad(ctx context.Context, ws []*worker, qps float64, t0 time.Time, timeout time.Duration, nm *names) []answer {
	var wg sync.WaitGroup
	out := make([][]answer, len(ws))
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var period time.Duration
			if qps > 0 {
				period = time.Duration(float64(time.Second) * float64(len(ws)) / qps)
			}
			// Spread the workers' schedules over one period.
			next := time.Now().Add(period * time.Duration(i) / time.Duration(len(ws)))
			for ctx.Err() == nil {
				if period > 0 {
					if d := time.Until(next); d > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(d):
						}
					}
					// Late (a slow reply): send now, without catching up in a burst.
					next = later(next.Add(period), time.Now())
				}
				out[i] = append(out[i], w.query(t0, timeout, nm))
			}
		}()
	}
	wg.Wait()
	var all []answer
	for _, o := range out {
		all = append(all, o...)
	}
	return all
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// measureCapacity runs the workers closed-loop (each sends its next query
// when the last reply came) for d and returns answers per second.
func measureCapacity(ctx context.Context, ws []*worker, d time.Duration, timeout time.Duration, nm *names) (float64, int) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	as := runLoad(ctx, ws, 0, start, timeout, nm)
	bad := 0
	for _, a := range as {
		if a.rcode != dns.RcodeSuccess {
			bad++
		}
	}
	return float64(len(as)) / time.Since(start).Seconds(), bad
}
