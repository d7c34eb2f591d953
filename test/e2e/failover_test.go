package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
)

// The failover test's world: two sites of three real backends (`hadns demo`
// child processes) on addresses no other test uses, clients inside each
// site's network, and a fast http check so the whole run takes seconds.
const (
	foName        = "api.failover.test."
	foSRV         = "_http._tcp.api.failover.test."
	foTTL         = 10
	foDegradedTTL = 3

	foInterval = 300 * time.Millisecond
	foTimeout  = 200 * time.Millisecond
	foFast     = 100 * time.Millisecond
	foRise     = 2
	foFall     = 2

	// foMargin is added to every computed bound: process start, scheduling
	// under -race, the answer recompute and our polling.
	foMargin = time.Second
)

var (
	foEast       = []string{"127.0.61.1", "127.0.61.2", "127.0.61.3"}
	foWest       = []string{"127.0.62.1", "127.0.62.2", "127.0.62.3"}
	foEastClient = "127.0.61.100"
	foWestClient = "127.0.62.100"
)

const failoverCorefile = `failover.test:{{.Port}} {
    bind 127.0.0.1
    errors
    hadns {
        zone failover.test.yaml
        site east 127.0.61.0/24 fallback west
        site west 127.0.62.0/24 fallback east
        reload 0
    }
}
`

func failoverZone(port int) string {
	return failoverZoneFor("failover.test.", port, foEast, foWest)
}

// failoverZoneFor is the failover test's zone with another origin and
// other backends in east and west.
func failoverZoneFor(origin string, port int, east, west []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `origin: %s
soa: {mname: ns1.%s, rname: hostmaster.%s, serial: 1}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    ttl: %d
    degraded_ttl: %d
    port: %d
    srv: [_http._tcp]
    check: {kind: http, path: /healthz, interval: %v, timeout: %v, fast_interval: %v, rise: %d, fall: %d}
    backends:
`, origin, origin, origin, foTTL, foDegradedTTL, port, foInterval, foTimeout, foFast, foRise, foFall)
	for _, h := range east {
		fmt.Fprintf(&b, "      - {address: %s, site: east}\n", h)
	}
	for _, h := range west {
		fmt.Fprintf(&b, "      - {address: %s, site: west}\n", h)
	}
	return b.String()
}

// foBounds returns the worst-case time for the check above to take a
// crashed backend out (a probe just succeeded; the next starts up to
// interval+5% later; fall probes, fast_interval apart, each up to timeout)
// and to bring a restarted one back (down_interval defaults to interval).
func foBounds(t *testing.T) (detect, rise time.Duration) {
	detect = foInterval*105/100 + (foFall-1)*foFast + foFall*foTimeout
	rise = foInterval*105/100 + (foRise-1)*foFast + foRise*foTimeout
	spec := healthcheck.Spec{Kind: "http", Interval: foInterval, Timeout: foTimeout, FastInterval: foFast, Rise: foRise, Fall: foFall}
	if got := spec.WithDefaults().DetectionBound(); got != detect {
		t.Errorf("healthcheck.Spec.DetectionBound() = %v, the documented formula gives %v", got, detect)
	}
	return detect, rise
}

// TestFailover kills real backend processes and checks that the answers
// follow: a dead backend leaves A and SRV within the detection bound, a dead
// site sends its clients to the fallback site with a degraded TTL and an
// Extended DNS Error, nothing healthy fails open, and restarted backends
// come back. It is not parallel: its timings are asserted.
func TestFailover(t *testing.T) {
	port, bs := startDemoSet(t, append(slices.Clone(foEast), foWest...))
	eastB, westB := bs[:3], bs[3:]
	s := startServer(t, failoverCorefile, files{"failover.test.yaml": failoverZone(port)})

	detect, rise := foBounds(t)
	t.Logf("check: http interval %v timeout %v fast_interval %v rise %d fall %d: detection bound %v (+%v margin), rise bound %v; worst-case failover for clients %v (detection + TTL %ds)",
		foInterval, foTimeout, foFast, foRise, foFall, detect, foMargin, rise, detect+foTTL*time.Second, foTTL)

	east := foClient{s: s, src: foEastClient, port: port}
	west := foClient{s: s, src: foWestClient, port: port}
	ecsEast := foClient{s: s, ecs: netip.MustParsePrefix("127.0.61.0/24"), port: port} // sent from 127.0.0.1
	ecsWest := foClient{s: s, ecs: netip.MustParsePrefix("127.0.62.0/24"), port: port}
	hosts := func(bs []*demoBackend) []string {
		var out []string
		for _, b := range bs {
			out = append(out, b.Host())
		}
		return out
	}
	killAll := func(bs ...*demoBackend) time.Time {
		t0 := time.Now()
		for _, b := range bs {
			b.kill()
		}
		return t0
	}

	// All healthy: each client its own site's backends (min_healthy 1 is
	// met locally), the other site as SRV priority 2, full TTL, no EDE.
	healthy := func(since time.Time, limit time.Duration, what string) {
		t.Helper()
		foStep(t, what, since, limit,
			east.want(foState{a: foEast, tiers: [][]string{foEast, foWest}, ttl: foTTL}),
			ecsEast.want(foState{a: foEast, tiers: [][]string{foEast, foWest}, ttl: foTTL}),
			west.want(foState{a: foWest, tiers: [][]string{foWest, foEast}, ttl: foTTL}),
			ecsWest.want(foState{a: foWest, tiers: [][]string{foWest, foEast}, ttl: foTTL}),
		)
	}
	healthy(time.Now(), startTimeout, "all healthy")

	// One east backend crashes: it leaves A and SRV within the bound.
	dead, alive := eastB[0].Host(), hosts(eastB[1:])
	t0 := killAll(eastB[0])
	took := foStep(t, "killed "+dead+": gone from A and SRV", t0, detect+foMargin, east.without(dead), west.without(dead))
	t.Logf("one backend killed: gone from the answers %v after SIGKILL (bound %v + %v)", took.Round(time.Millisecond), detect, foMargin)
	foStep(t, "one east backend down", t0, detect+foMargin,
		east.want(foState{a: alive, tiers: [][]string{alive, foWest}, ttl: foTTL}),
		west.want(foState{a: foWest, tiers: [][]string{foWest, alive}, ttl: foTTL}),
	)

	// The whole east site crashes: east clients get west, degraded.
	t0 = killAll(eastB[1:]...)
	took = foStep(t, "east site killed: fallback to west", t0, detect+foMargin,
		east.want(foState{a: foWest, tiers: [][]string{foWest}, ttl: foDegradedTTL, ede: "fallback:"}),
		ecsEast.want(foState{a: foWest, tiers: [][]string{foWest}, ttl: foDegradedTTL, ede: "fallback:"}),
		west.want(foState{a: foWest, tiers: [][]string{foWest}, ttl: foTTL}),
	)
	t.Logf("east site killed: east clients answered from west %v after SIGKILL", took.Round(time.Millisecond))

	// Everything crashes: fail open, each client its first site's backends.
	t0 = killAll(westB...)
	took = foStep(t, "all killed: fail-open", t0, detect+foMargin,
		east.want(foState{a: foEast, tiers: [][]string{foEast}, ttl: foDegradedTTL, ede: "fail-open:"}),
		ecsEast.want(foState{a: foEast, tiers: [][]string{foEast}, ttl: foDegradedTTL, ede: "fail-open:"}),
		west.want(foState{a: foWest, tiers: [][]string{foWest}, ttl: foDegradedTTL, ede: "fail-open:"}),
	)
	t.Logf("all killed: fail-open %v after SIGKILL", took.Round(time.Millisecond))

	// East comes back after rise probes: healthy local answers for east,
	// west clients fall back to it.
	t0 = time.Now()
	for _, b := range eastB {
		b.restart(t)
	}
	took = foStep(t, "east restarted", t0, rise+foMargin,
		east.want(foState{a: foEast, tiers: [][]string{foEast}, ttl: foTTL}),
		ecsEast.want(foState{a: foEast, tiers: [][]string{foEast}, ttl: foTTL}),
		west.want(foState{a: foEast, tiers: [][]string{foEast}, ttl: foDegradedTTL, ede: "fallback:"}),
	)
	t.Logf("east restarted: back in the answers %v after the restart began (bound %v + %v)", took.Round(time.Millisecond), rise, foMargin)

	t0 = time.Now()
	for _, b := range westB {
		b.restart(t)
	}
	healthy(t0, rise+foMargin, "west restarted")

	// Go's own resolver as a west client: SRV targets in priority order,
	// its own site first.
	for _, network := range networks {
		r := &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(foWestClient)}}
				if network == "tcp" {
					d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(foWestClient)}
				}
				return d.DialContext(ctx, network, s.Addr)
			},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cname, srvs, err := r.LookupSRV(ctx, "http", "tcp", "api.failover.test.")
		cancel()
		if err != nil {
			t.Errorf("%s: Go resolver LookupSRV: %v", network, err)
			continue
		}
		if cname != foSRV {
			t.Errorf("%s: LookupSRV cname %q, want %q", network, cname, foSRV)
		}
		var got []string
		var prios []uint16
		for _, srv := range srvs {
			got = append(got, srv.Target)
			prios = append(prios, srv.Priority)
			if int(srv.Port) != port {
				t.Errorf("%s: LookupSRV %s port %d, want %d", network, srv.Target, srv.Port, port)
			}
		}
		want := []uint16{1, 1, 1, 2, 2, 2}
		if !slices.Equal(prios, want) ||
			!sameSet(got[:min(3, len(got))], foTargets(foWest)) || !sameSet(got[min(3, len(got)):], foTargets(foEast)) {
			t.Errorf("%s: Go resolver LookupSRV from a west client: targets %v priorities %v; want west's %v (priority 1) then east's (priority 2)",
				network, got, prios, foTargets(foWest))
		}
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		addrs, err := r.LookupHost(ctx, "api.failover.test.")
		cancel()
		if err != nil || !sameSet(addrs, foWest) {
			t.Errorf("%s: Go resolver LookupHost from a west client: %v, %v; want %v", network, addrs, err, foWest)
		}
	}
}

// foState is what one client should see: the A answer's addresses, the
// SRV answer's priority tiers (addresses, priority 1 first), the TTL of
// every record, and the Extended DNS Error's text prefix ("" for none).
type foState struct {
	a     []string
	tiers [][]string
	ttl   uint32
	ede   string
}

// foClient queries the server over UDP from a source address, or with an
// ECS option from 127.0.0.1.
type foClient struct {
	s    *server
	src  string       // source address; "" for the default
	ecs  netip.Prefix // ECS option; zero for none
	port int          // the service's port, in SRV answers
}

func (c foClient) String() string {
	if c.ecs.IsValid() {
		return "client with ECS " + c.ecs.String()
	}
	if c.src == "" {
		return "client 127.0.0.1"
	}
	return "client " + c.src
}

// ask sends one query; a UDP timeout is retried twice.
func (c foClient) ask(name string, qtype uint16) (*dns.Msg, error) {
	q := query(name, qtype, 1232)
	if c.ecs.IsValid() {
		q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(c.ecs.Bits()), Address: c.ecs.Addr().AsSlice(),
		})
	}
	cl := &dns.Client{Net: "udp", Timeout: queryTimeout}
	if c.src != "" {
		cl.Dialer = &net.Dialer{Timeout: queryTimeout, LocalAddr: &net.UDPAddr{IP: net.ParseIP(c.src)}}
	}
	var err error
	for try := 0; try < 3; try++ {
		var r *dns.Msg
		if r, _, err = cl.Exchange(q, c.s.Addr); err == nil {
			if r.Id != q.Id || !r.Response {
				return nil, fmt.Errorf("%s %s: reply ID %d QR %v", dns.TypeToString[qtype], name, r.Id, r.Response)
			}
			return r, nil
		}
	}
	return nil, err
}

// want returns a check that c's A and SRV answers are exactly w.
func (c foClient) want(w foState) func() error {
	return func() error {
		r, err := c.ask(foName, dns.TypeA)
		if err != nil {
			return fmt.Errorf("%s: A: %v", c, err)
		}
		var addrs []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok && a.Hdr.Name == foName && a.Hdr.Ttl == w.ttl {
				addrs = append(addrs, a.A.String())
			} else {
				addrs = append(addrs, "unexpected "+rr.String())
			}
		}
		if err := c.common(r, w.ede); err != nil || !sameSet(addrs, w.a) {
			return fmt.Errorf("%s: A %v (TTL %d wanted), %v; want %v", c, addrs, w.ttl, err, w.a)
		}

		r, err = c.ask(foSRV, dns.TypeSRV)
		if err != nil {
			return fmt.Errorf("%s: SRV: %v", c, err)
		}
		var tiers [][]string
		glue := map[string]string{}
		for _, rr := range r.Extra {
			if a, ok := rr.(*dns.A); ok {
				glue[a.Hdr.Name] = a.A.String()
			}
		}
		for _, rr := range r.Answer {
			srv, ok := rr.(*dns.SRV)
			if !ok || srv.Hdr.Name != foSRV || srv.Hdr.Ttl != w.ttl || int(srv.Port) != c.port || srv.Priority == 0 || int(srv.Priority) > len(tiers)+1 {
				return fmt.Errorf("%s: SRV: unexpected %s (want TTL %d, port %d, priorities from 1 in order)", c, rr, w.ttl, c.port)
			}
			addr, ok := glue[srv.Target]
			if !ok || srv.Target != foTarget(addr) {
				return fmt.Errorf("%s: SRV target %s without matching glue (%q) in the additional section", c, srv.Target, addr)
			}
			if int(srv.Priority) == len(tiers)+1 {
				tiers = append(tiers, nil)
			}
			tiers[srv.Priority-1] = append(tiers[srv.Priority-1], addr)
		}
		ok := len(tiers) == len(w.tiers)
		for i := 0; ok && i < len(tiers); i++ {
			ok = sameSet(tiers[i], w.tiers[i])
		}
		if err := c.common(r, w.ede); err != nil || !ok {
			return fmt.Errorf("%s: SRV tiers %v, %v; want %v", c, tiers, err, w.tiers)
		}
		return nil
	}
}

// without returns a check that none of hosts is in c's A or SRV answer.
func (c foClient) without(hosts ...string) func() error {
	return func() error {
		for _, qt := range []uint16{dns.TypeA, dns.TypeSRV} {
			name := foName
			if qt == dns.TypeSRV {
				name = foSRV
			}
			r, err := c.ask(name, qt)
			if err != nil {
				return fmt.Errorf("%s: %s: %v", c, dns.TypeToString[qt], err)
			}
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
				return fmt.Errorf("%s: %s: rcode %s with %d answers", c, dns.TypeToString[qt], dns.RcodeToString[r.Rcode], len(r.Answer))
			}
			for _, rr := range r.Answer {
				for _, h := range hosts {
					if a, ok := rr.(*dns.A); ok && a.A.String() == h {
						return fmt.Errorf("%s: %s still in the A answer", c, h)
					}
					if s, ok := rr.(*dns.SRV); ok && s.Target == foTarget(h) {
						return fmt.Errorf("%s: %s still in the SRV answer", c, h)
					}
				}
			}
		}
		return nil
	}
}

// common checks what every service reply shares: NOERROR, AA, the EDE
// (code Other with a text starting with ede, or none when ede is ""), and
// for an ECS query an ECS option scoped to the site's /24.
func (c foClient) common(r *dns.Msg, ede string) error {
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		return fmt.Errorf("rcode %s AA %v, want NOERROR AA", dns.RcodeToString[r.Rcode], r.Authoritative)
	}
	opt := r.IsEdns0()
	if opt == nil {
		return errors.New("no OPT record in the reply")
	}
	var edes []*dns.EDNS0_EDE
	var ecs *dns.EDNS0_SUBNET
	for _, o := range opt.Option {
		switch o := o.(type) {
		case *dns.EDNS0_EDE:
			edes = append(edes, o)
		case *dns.EDNS0_SUBNET:
			ecs = o
		}
	}
	switch {
	case ede == "" && len(edes) > 0:
		return fmt.Errorf("EDE %d %q, want none", edes[0].InfoCode, edes[0].ExtraText)
	case ede != "" && (len(edes) != 1 || edes[0].InfoCode != dns.ExtendedErrorCodeOther || !strings.HasPrefix(edes[0].ExtraText, ede)):
		var got []string
		for _, e := range edes {
			got = append(got, fmt.Sprintf("%d %q", e.InfoCode, e.ExtraText))
		}
		return fmt.Errorf("EDE %v, want one of code 0 (Other) with a text starting %q", got, ede)
	}
	if c.ecs.IsValid() {
		if ecs == nil {
			return errors.New("no ECS option in the reply to an ECS query")
		}
		if int(ecs.SourceScope) != 24 || int(ecs.SourceNetmask) != c.ecs.Bits() {
			return fmt.Errorf("reply ECS %s: scope %d, want 24 (the site's network)", ecs, ecs.SourceScope)
		}
	}
	return nil
}

// foStep polls every check until all pass at once, at most limit after
// since, and returns how long after since that was. It fails the test with
// the last mismatch when the limit passes.
func foStep(t *testing.T, what string, since time.Time, limit time.Duration, checks ...func() error) time.Duration {
	t.Helper()
	deadline := since.Add(limit)
	var err error
	for i := 0; i < int(limit/time.Millisecond)+1; i++ {
		err = nil
		for _, check := range checks {
			if err = check(); err != nil {
				break
			}
		}
		now := time.Now()
		if err == nil {
			return now.Sub(since)
		}
		if now.After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, limit, err)
	return 0
}

// foTarget is the SRV target hadns makes up for an IPv4 backend.
func foTarget(addr string) string {
	return strings.ReplaceAll(addr, ".", "-") + "." + foName
}

func foTargets(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		out = append(out, foTarget(a))
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
