package hadns

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/healthcheck/healthchecktest"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// fakeProber fails the addresses marked down.
type fakeProber struct {
	mu   sync.Mutex
	down map[netip.Addr]bool
}

func (p *fakeProber) Check(_ context.Context, t healthcheck.Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down[t.Addr.Addr()] {
		return errors.New("connect: connection refused")
	}
	return nil
}

func (p *fakeProber) set(down bool, addrs ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range addrs {
		p.down[netip.MustParseAddr(a)] = down
	}
}

// healthRig runs an engine whose checker probes through a fakeProber on a
// fake clock.
type healthRig struct {
	t      *testing.T
	h      *Hadns
	e      *engine
	prober *fakeProber
	clock  *healthchecktest.FakeClock
	n      int // targets
	cfg    *config
	pool   *checkerPool
}

// reloadCorefile does what CoreDNS's reload does to the plugin: a new
// instance is set up and started beside the old one, then the old one stops.
func (r *healthRig) reloadCorefile() {
	r.t.Helper()
	snap, err := load(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	h := &Hadns{}
	e := newEngine(h, r.cfg, snap, r.pool)
	if err := e.start(); err != nil {
		r.t.Fatal(err)
	}
	r.e.stop()
	r.h, r.e = h, e
}

func newHealthRig(t *testing.T) *healthRig {
	t.Helper()
	return newHealthRigWith(t, nil)
}

// newHealthRigWith is newHealthRig with edit applied to the config first
// (admin API, state file).
func newHealthRigWith(t *testing.T, edit func(*config)) *healthRig {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zone.yaml")
	if err := os.WriteFile(path, []byte(zonetest.SelZone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config{origins: []string{"."}, files: []string{path}, startupTimeout: time.Hour, sites: []sites.Config{
		{Name: "east", Networks: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, Fallback: []string{"west"}},
		{Name: "west", Networks: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}, Fallback: []string{"east"}},
		{Name: "north", Networks: []netip.Prefix{netip.MustParsePrefix("10.3.0.0/16")}},
	}}
	if edit != nil {
		edit(cfg)
	}
	snap, err := load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &healthRig{t: t, h: &Hadns{}, prober: &fakeProber{down: map[netip.Addr]bool{}}, clock: healthchecktest.NewFakeClock(time.Unix(1e9, 0)), n: 6, cfg: cfg}
	r.pool = newCheckerPool(healthcheck.Options{
		Clock:   r.clock,
		Probers: map[string]healthcheck.Prober{"tcp": r.prober},
		Rand:    func(int64) int64 { return 0 },
	})
	r.e = newEngine(r.h, cfg, snap, r.pool)
	if err := r.e.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.e.stop() })
	return r
}

// until advances fake time in small steps, with every probe loop parked
// between steps, until cond holds; it fails the test after 30 s of fake time.
func (r *healthRig) until(what string, cond func() bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 300 {
		if cond() {
			return
		}
		// Wait for the loops to park, watching cond meanwhile: a step may
		// disarm a timer for good (an override's expiry fires once), so
		// fewer than r.n can be left once cond is on its way to holding.
		for !r.parked(ctx) {
			if cond() {
				return
			}
			if ctx.Err() != nil {
				r.t.Fatalf("%s: probe loops did not park: %v", what, ctx.Err())
			}
		}
		r.clock.Advance(100 * time.Millisecond)
		// Let the health loop apply what the probes reported.
		deadline := time.Now().Add(50 * time.Millisecond)
		for !cond() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	r.t.Fatalf("%s: not reached after 30 s of fake time", what)
}

// parked reports whether r.n timers are armed on the fake clock within a
// short wait.
func (r *healthRig) parked(ctx context.Context) bool {
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	return r.clock.BlockUntil(short, r.n) == nil
}

func (r *healthRig) ask(from, qname string, qtype uint16, ecs string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.SetEdns0(1232, false)
	if ecs != "" {
		p := netip.MustParsePrefix(ecs)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()})
	}
	return query(r.t, r.h, m, &test.ResponseWriter{RemoteIP: from})
}

func ede(m *dns.Msg) *dns.EDNS0_EDE {
	if o := m.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_EDE); ok {
				return e
			}
		}
	}
	return nil
}

func srvTargets(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		if s, ok := rr.(*dns.SRV); ok {
			out = append(out, strings.TrimSuffix(s.Target, ".api.example.test."))
		}
	}
	return out
}

func TestHealthDrivesAnswers(t *testing.T) {
	r := newHealthRig(t)
	r.until("ready", r.h.Ready)

	east := func() []string { return zonetest.AddrsOf(r.ask("10.1.9.9", "api.example.test.", dns.TypeA, "").Answer) }
	if got := east(); !slices.Equal(got, []string{"10.1.0.1", "10.1.0.2"}) {
		t.Fatalf("healthy east answer %v", got)
	}

	// One backend dies: it leaves A and SRV, and its site tops up from west.
	r.prober.set(true, "10.1.0.1")
	r.until("10.1.0.1 gone from A", func() bool { return !slices.Contains(east(), "10.1.0.1") })
	if got := east(); !slices.Equal(got, []string{"10.1.0.2", "10.2.0.1", "10.2.0.2"}) {
		t.Fatalf("east answer after one death %v", got)
	}
	if got := srvTargets(r.ask("10.1.9.9", "_http._tcp.api.example.test.", dns.TypeSRV, "")); slices.Contains(got, "10-1-0-1") {
		t.Fatalf("dead backend still in SRV: %v", got)
	}

	// The whole site dies: east clients get west, with the degraded TTL and
	// an EDE; the ECS scope is the matched network's length.
	r.prober.set(true, "10.1.0.2")
	r.until("east empty", func() bool { return slices.Equal(east(), []string{"10.2.0.1", "10.2.0.2"}) })
	m := r.ask("192.0.2.1", "api.example.test.", dns.TypeA, "10.1.7.0/24")
	if got := zonetest.AddrsOf(m.Answer); !slices.Equal(got, []string{"10.2.0.1", "10.2.0.2"}) {
		t.Fatalf("ECS east client got %v", got)
	}
	if m.Answer[0].Header().Ttl != 10 {
		t.Errorf("fallback TTL %d, want degraded 10", m.Answer[0].Header().Ttl)
	}
	if e := ede(m); e == nil || e.InfoCode != dns.ExtendedErrorCodeOther || !strings.HasPrefix(e.ExtraText, "fallback:") {
		t.Errorf("fallback EDE %v", e)
	}
	for _, o := range m.IsEdns0().Option {
		if s, ok := o.(*dns.EDNS0_SUBNET); ok && s.SourceScope != 16 {
			t.Errorf("ECS scope %d, want 16 (the site network)", s.SourceScope)
		}
	}
	srv := r.ask("10.1.9.9", "_http._tcp.api.example.test.", dns.TypeSRV, "")
	if got := srvTargets(srv); !slices.Equal(got, []string{"10-2-0-1", "10-2-0-2", "2001-0db8-0000-0000-0000-0000-0000-0001", "10-3-0-1"}) {
		t.Fatalf("SRV tiers after east died: %v", got)
	}

	// Everything dies: fail open with east's own backends.
	r.prober.set(true, "10.2.0.1", "10.2.0.2", "10.3.0.1", "2001:db8::1")
	r.until("fail open", func() bool {
		e := ede(r.ask("10.1.9.9", "api.example.test.", dns.TypeA, ""))
		return e != nil && strings.HasPrefix(e.ExtraText, "fail-open")
	})
	if got := east(); !slices.Equal(got, []string{"10.1.0.1", "10.1.0.2"}) {
		t.Fatalf("fail-open answer %v", got)
	}

	// East comes back: after rise good probes it is served again, at full TTL.
	r.prober.set(false, "10.1.0.1", "10.1.0.2")
	r.until("east back", func() bool {
		m := r.ask("10.1.9.9", "api.example.test.", dns.TypeA, "")
		return ede(m) == nil && slices.Equal(zonetest.AddrsOf(m.Answer), []string{"10.1.0.1", "10.1.0.2"})
	})
	if ttl := r.ask("10.1.9.9", "api.example.test.", dns.TypeA, "").Answer[0].Header().Ttl; ttl != 20 {
		t.Fatalf("recovered TTL %d, want 20", ttl)
	}
}

func TestNotReadyAnswersSaySo(t *testing.T) {
	h := newTestHandler(t, testZone)
	h.ready.Store(false)
	m := new(dns.Msg)
	m.SetQuestion("api.example.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	e := ede(query(t, h, m, udpWriter()))
	if e == nil || e.InfoCode != dns.ExtendedErrorCodeNotReady {
		t.Fatalf("EDE %v, want Not Ready before the first health results", e)
	}
	m.SetQuestion("mail.example.test.", dns.TypeA)
	if e := ede(query(t, h, m, udpWriter())); e != nil {
		t.Fatalf("static answer carries EDE %v", e)
	}
}

func TestMalformedECSIsFormErr(t *testing.T) {
	h := newTestHandler(t, testZone)
	for _, o := range []*dns.EDNS0_SUBNET{
		{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, SourceScope: 8, Address: []byte{10, 1, 2, 0}},
		{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 16, Address: []byte{10, 1, 2, 0}},
	} {
		m := new(dns.Msg)
		m.SetQuestion("api.example.test.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, o)
		if resp := query(t, h, m, udpWriter()); resp.Rcode != dns.RcodeFormatError {
			t.Errorf("ECS %v: rcode %s, want FORMERR", o, dns.RcodeToString[resp.Rcode])
		}
	}
}

func TestCorefileReloadKeepsHealth(t *testing.T) {
	r := newHealthRig(t)
	r.until("ready", r.h.Ready)
	r.prober.set(true, "10.1.0.1")
	r.until("10.1.0.1 down", func() bool {
		return !slices.Contains(zonetest.AddrsOf(r.ask("10.1.9.9", "api.example.test.", dns.TypeA, "").Answer), "10.1.0.1")
	})
	key := r.e.snap.zones["example.test."].Services()[0].Backends()[0].Check().Key()
	before, _ := r.pool.current().Status(key)

	sub := r.pool.current().Subscribe()
	defer sub.Close()
	for range 50 {
		r.reloadCorefile()
		// The new instance answers from the shared state at once.
		if got := zonetest.AddrsOf(r.ask("10.1.9.9", "api.example.test.", dns.TypeA, "").Answer); slices.Contains(got, "10.1.0.1") {
			t.Fatalf("after a reload the down backend is back in %v", got)
		}
	}
	if evs := sub.Events(); len(evs) != 0 {
		t.Fatalf("50 reloads caused %d transitions: %v", len(evs), evs)
	}
	after, _ := r.pool.current().Status(key)
	if after.State != healthcheck.Down || !after.Since.Equal(before.Since) {
		t.Fatalf("state %v since %v, want down since %v (kept across reloads)", after.State, after.Since, before.Since)
	}
}
