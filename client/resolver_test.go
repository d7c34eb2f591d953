package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const srvName = "_http._tcp.api.test."

// setSRV makes s answer srvName with one target per address, a.api.test.
// for addrs[0] at priority 1 and so on, all with ttl, and glue.
func setSRV(s *testDNS, ttl int, addrs ...string) {
	var r reply
	for i, a := range addrs {
		host := fmt.Sprintf("%c.api.test.", 'a'+i)
		r.answer = append(r.answer, rr(fmt.Sprintf("%s %d IN SRV %d 0 8080 %s", srvName, ttl, i+1, host)))
		r.extra = append(r.extra, rr(fmt.Sprintf("%s %d IN A %s", host, ttl, a)))
	}
	s.set(srvName, dns.TypeSRV, r)
}

// testResolver returns a Resolver asking s, on a fake clock, that tells
// refreshed about each background refresh it finished.
func testResolver(s *testDNS) (r *Resolver, clock *fakeClock, refreshed chan struct{}) {
	clock = newFakeClock()
	refreshed = make(chan struct{}, 16)
	r = &Resolver{Nameservers: []string{s.addr}, Clock: clock, Timeout: 2 * time.Second}
	r.afterRefresh = func() { refreshed <- struct{}{} }
	return r, clock, refreshed
}

// hosts looks srvName up and returns the targets' first addresses.
func hosts(t *testing.T, r *Resolver) []string {
	t.Helper()
	ts, err := r.LookupSRV(context.Background(), srvName)
	if err != nil {
		t.Fatalf("LookupSRV: %v", err)
	}
	var out []string
	for _, x := range ts {
		if len(x.Addrs) == 0 {
			t.Fatalf("target %v without glue addresses", x)
		}
		out = append(out, x.Addrs[0].String())
	}
	return out
}

func waitRefresh(t *testing.T, refreshed <-chan struct{}) {
	t.Helper()
	select {
	case <-refreshed:
	case <-time.After(10 * time.Second):
		t.Fatal("no background refresh finished within 10s")
	}
}

// TestResolverCache: an answer is served from the cache within its TTL,
// and asked again once the TTL has passed, never later.
func TestResolverCache(t *testing.T) {
	s := startDNS(t)
	setSRV(s, 10, "127.0.0.1", "127.0.0.2")
	r, clock, _ := testResolver(s)

	want := []string{"127.0.0.1", "127.0.0.2"}
	if got := hosts(t, r); !slices.Equal(got, want) {
		t.Fatalf("first lookup: %v, want %v", got, want)
	}
	setSRV(s, 10, "127.0.0.3")
	for _, step := range []time.Duration{time.Second, 3 * time.Second, 3 * time.Second} { // up to 7 s: below 75%
		clock.Advance(step)
		if got := hosts(t, r); !slices.Equal(got, want) {
			t.Fatalf("within the TTL: %v, want the cached %v", got, want)
		}
	}
	if n := s.count(srvName, dns.TypeSRV); n != 1 {
		t.Fatalf("%d queries within the TTL, want 1", n)
	}
	clock.Advance(3 * time.Second) // 10 s: the TTL is over
	if got := hosts(t, r); !slices.Equal(got, []string{"127.0.0.3"}) {
		t.Fatalf("at the TTL: %v, want the new answer", got)
	}
	if n := s.count(srvName, dns.TypeSRV); n != 2 {
		t.Fatalf("%d queries after the TTL, want 2", n)
	}
}

// TestResolverCacheLowestTTL: the answer lives as long as its shortest
// record, glue included.
func TestResolverCacheLowestTTL(t *testing.T) {
	s := startDNS(t)
	s.set(srvName, dns.TypeSRV, reply{
		answer: rrs(srvName + " 10 IN SRV 1 0 8080 a.api.test."),
		extra:  rrs("a.api.test. 4 IN A 127.0.0.1"),
	})
	r, clock, _ := testResolver(s)
	hosts(t, r)
	clock.Advance(2 * time.Second)
	hosts(t, r)
	if n := s.count(srvName, dns.TypeSRV); n != 1 {
		t.Fatalf("%d queries at 2 s, want 1", n)
	}
	clock.Advance(2 * time.Second)
	hosts(t, r)
	if n := s.count(srvName, dns.TypeSRV); n != 2 {
		t.Fatalf("%d queries at 4 s (glue TTL), want 2", n)
	}
}

// TestResolverBackgroundRefresh: a lookup after 75% of the TTL gets the
// cached answer at once and renews it in the background, so a name in use
// never expires; a name not used is not refreshed.
func TestResolverBackgroundRefresh(t *testing.T) {
	s := startDNS(t)
	setSRV(s, 10, "127.0.0.1")
	r, clock, refreshed := testResolver(s)
	hosts(t, r)

	setSRV(s, 10, "127.0.0.2")
	clock.Advance(8 * time.Second) // 80%
	if got := hosts(t, r); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Fatalf("at 80%%: %v, want the cached answer at once", got)
	}
	waitRefresh(t, refreshed)
	if n := s.count(srvName, dns.TypeSRV); n != 2 {
		t.Fatalf("%d queries after the refresh, want 2", n)
	}
	if got := hosts(t, r); !slices.Equal(got, []string{"127.0.0.2"}) {
		t.Fatalf("after the refresh: %v, want the new answer", got)
	}
	// The refreshed answer counts from its own query (t = 8 s): it is
	// fresh until 18 s, refreshed again from 15.5 s.
	clock.Advance(7 * time.Second) // 15 s
	hosts(t, r)
	if n := s.count(srvName, dns.TypeSRV); n != 2 {
		t.Fatalf("%d queries at 15 s, want 2 (the refreshed answer is fresh)", n)
	}
	// Unused for a long time: nothing is asked until the next lookup,
	// which asks synchronously because the answer expired.
	clock.Advance(time.Hour)
	if n := s.count(srvName, dns.TypeSRV); n != 2 {
		t.Fatalf("%d queries while unused, want 2", n)
	}
	setSRV(s, 10, "127.0.0.3")
	if got := hosts(t, r); !slices.Equal(got, []string{"127.0.0.3"}) {
		t.Fatalf("after expiry: %v, want a fresh answer", got)
	}
	select {
	case <-refreshed:
		t.Fatal("a background refresh ran for an expired answer; want a synchronous query")
	default:
	}
}

// TestResolverStale: while no nameserver answers, the last answer is
// served for MaxStale past its expiry, and not beyond.
func TestResolverStale(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxStale time.Duration
		bound    time.Duration
		down     func(*testDNS)
	}{
		{"SERVFAIL, default bound", 0, DefaultMaxStale, func(s *testDNS) { s.setServfail(true) }},
		{"server gone, default bound", 0, DefaultMaxStale, (*testDNS).stop},
		{"SERVFAIL, 30s bound", 30 * time.Second, 30 * time.Second, func(s *testDNS) { s.setServfail(true) }},
		{"server gone, no stale", -1, 0, (*testDNS).stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startDNS(t)
			setSRV(s, 10, "127.0.0.1")
			r, clock, refreshed := testResolver(s)
			r.MaxStale = tc.maxStale
			hosts(t, r)
			tc.down(s)

			clock.Advance(10 * time.Second) // expired
			if tc.bound == 0 {
				_, err := r.LookupSRV(context.Background(), srvName)
				if !errors.Is(err, ErrUnreachable) {
					t.Fatalf("expired, no stale allowed: %v, want ErrUnreachable", err)
				}
				return
			}
			if got := hosts(t, r); !slices.Equal(got, []string{"127.0.0.1"}) {
				t.Fatalf("expired, nameserver down: %v, want the stale answer", got)
			}
			// Later lookups get the stale answer at once; one retries in
			// the background once StaleRetry has passed.
			clock.Advance(DefaultStaleRetry)
			if got := hosts(t, r); !slices.Equal(got, []string{"127.0.0.1"}) {
				t.Fatalf("stale: %v", got)
			}
			waitRefresh(t, refreshed)
			clock.Advance(tc.bound - DefaultStaleRetry - time.Millisecond) // just inside the bound
			if got := hosts(t, r); !slices.Equal(got, []string{"127.0.0.1"}) {
				t.Fatalf("just inside the stale bound: %v", got)
			}
			waitRefresh(t, refreshed)
			clock.Advance(time.Millisecond) // expiry + bound
			_, err := r.LookupSRV(context.Background(), srvName)
			var de *net.DNSError
			if !errors.Is(err, ErrUnreachable) || !errors.As(err, &de) || !de.IsTemporary || de.IsNotFound {
				t.Fatalf("past the stale bound: %v, want a temporary *net.DNSError wrapping ErrUnreachable", err)
			}
		})
	}
}

// TestResolverStaleRecovers: once the nameserver answers again, the next
// refresh replaces the stale answer.
func TestResolverStaleRecovers(t *testing.T) {
	s := startDNS(t)
	setSRV(s, 10, "127.0.0.1")
	r, clock, refreshed := testResolver(s)
	hosts(t, r)
	s.setServfail(true)
	clock.Advance(11 * time.Second)
	hosts(t, r) // stale
	s.setServfail(false)
	setSRV(s, 10, "127.0.0.2")
	clock.Advance(DefaultStaleRetry)
	hosts(t, r) // still stale, refresh started
	waitRefresh(t, refreshed)
	if got := hosts(t, r); !slices.Equal(got, []string{"127.0.0.2"}) {
		t.Fatalf("after recovery: %v, want the new answer", got)
	}
}

// TestResolverNegative: NXDOMAIN and NODATA are answers, cached for the
// SOA's negative TTL (not at all without a SOA), and never unreachability.
func TestResolverNegative(t *testing.T) {
	s := startDNS(t)
	// Unknown names get NXDOMAIN with "test. 300 SOA ... minimum 30".
	s.set("nodata.test.", dns.TypeSRV, reply{ns: rrs("test. 20 IN SOA ns.test. h.test. 1 3600 600 86400 60")})
	s.set("nosoa.test.", dns.TypeSRV, reply{})
	r, clock, _ := testResolver(s)

	for _, tc := range []struct {
		name string
		ttl  time.Duration
	}{
		{"missing.test.", 30 * time.Second}, // min(300, 30)
		{"nodata.test.", 20 * time.Second},  // min(20, 60)
		{"nosoa.test.", 0},
	} {
		for i := 0; i < 2; i++ {
			_, err := r.LookupSRV(context.Background(), tc.name)
			var de *net.DNSError
			if !errors.As(err, &de) || !de.IsNotFound || errors.Is(err, ErrUnreachable) {
				t.Fatalf("%s: %v, want a not-found *net.DNSError", tc.name, err)
			}
		}
		want := 1
		if tc.ttl == 0 {
			want = 2
		}
		if n := s.count(tc.name, dns.TypeSRV); n != want {
			t.Errorf("%s: %d queries for two lookups, want %d", tc.name, n, want)
		}
	}
	clock.Advance(20 * time.Second)
	r.LookupSRV(context.Background(), "nodata.test.")
	r.LookupSRV(context.Background(), "missing.test.")
	if n := s.count("nodata.test.", dns.TypeSRV); n != 2 {
		t.Errorf("NODATA asked %d times at its negative TTL, want 2", n)
	}
	if n := s.count("missing.test.", dns.TypeSRV); n != 1 {
		t.Errorf("NXDOMAIN asked %d times before its negative TTL, want 1", n)
	}
}

// TestResolverTargetAddrs: targets without glue are looked up with A and
// AAAA queries, which are cached too.
func TestResolverTargetAddrs(t *testing.T) {
	s := startDNS(t)
	s.set(srvName, dns.TypeSRV, reply{answer: rrs(srvName + " 10 IN SRV 1 0 8080 x.api.test.")})
	s.set("x.api.test.", dns.TypeA, reply{answer: rrs("x.api.test. 10 IN A 127.0.0.9")})
	s.set("x.api.test.", dns.TypeAAAA, reply{ns: rrs("test. 10 IN SOA ns.test. h.test. 1 3600 600 86400 10")})
	r, _, _ := testResolver(s)
	ts, err := r.LookupSRV(context.Background(), srvName)
	if err != nil || len(ts) != 1 || len(ts[0].Addrs) != 0 {
		t.Fatalf("LookupSRV: %v %v, want one target without addresses", ts, err)
	}
	for i := 0; i < 2; i++ {
		addrs, err := r.LookupAddrs(context.Background(), "tcp", ts[0].Host)
		if err != nil || len(addrs) != 1 || addrs[0].String() != "127.0.0.9" {
			t.Fatalf("LookupAddrs: %v %v, want [127.0.0.9]", addrs, err)
		}
	}
	if a, aaaa := s.count("x.api.test.", dns.TypeA), s.count("x.api.test.", dns.TypeAAAA); a != 1 || aaaa != 1 {
		t.Errorf("A asked %d times, AAAA %d times, want once each", a, aaaa)
	}
	if _, err := r.LookupAddrs(context.Background(), "tcp6", ts[0].Host); err == nil {
		t.Errorf("LookupAddrs tcp6 of a name without AAAA: no error")
	}
}

// TestResolverTruncatedUsesTCP: an answer too big for UDP is fetched again
// over TCP, whole.
func TestResolverTruncatedUsesTCP(t *testing.T) {
	s := startDNS(t)
	var addrs []string
	for i := 1; i <= 20; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d", i))
	}
	setSRV(s, 10, addrs...)
	r, _, _ := testResolver(s)
	if got := hosts(t, r); !slices.Equal(got, addrs) {
		t.Fatalf("big answer: %v, want %v", got, addrs)
	}
}

// TestResolverNextNameserver: a nameserver that is down is passed over.
func TestResolverNextNameserver(t *testing.T) {
	down, up := startDNS(t), startDNS(t)
	down.stop()
	setSRV(up, 10, "127.0.0.1")
	r, _, _ := testResolver(up)
	r.Nameservers = []string{down.addr, up.addr}
	if got := hosts(t, r); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Fatalf("%v, want the second nameserver's answer", got)
	}
}
