package hadns

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/healthcheck/healthchecktest"
	"github.com/hadns/hadns/internal/dnssec"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/zone"
	"github.com/hadns/hadns/internal/zone/zonetest"
)

// signedZone is testZone with a second delegation that has a DS record.
var signedZone = strings.Replace(wireZone, "records: |\n", "records: |\n"+
	"  secure        NS     ns.elsewhere.example.org.\n"+
	"  secure        DS     60485 13 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A\n", 1)

// exampleKeys reads the example KSK and ZSK under zones/keys.
func exampleKeys(t testing.TB) []*dnssec.Key {
	t.Helper()
	var keys []*dnssec.Key
	for _, role := range []string{"ksk", "zsk"} {
		k, err := dnssec.ReadKey(filepath.Join("..", "zones", "keys", "Kexample.test.+013."+role+".NOT-FOR-PRODUCTION"), "example.test.")
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

// signedConfig signs example.test. with the example keys on clock.
func signedConfig(t testing.TB, clock healthcheck.Clock) *dnssecConfig {
	t.Helper()
	s, err := dnssec.NewSigner("example.test.", exampleKeys(t), dnssec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := &dnssecConfig{zones: map[string]*zone.Signer{}, clock: clock}
	d.zones["example.test."] = zone.NewSigner(s, clock.Now)
	return d
}

// t0 is when the signing tests start; they never read the wall clock.
var t0 = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

// newSignedHandler is newTestHandler with example.test. signed on clock;
// it returns the engine too.
func newSignedHandler(t testing.TB, zone string, clock healthcheck.Clock, siteCfg ...sites.Config) (*Hadns, *engine) {
	t.Helper()
	return newSignedHandlerWith(t, zone, signedConfig(t, clock), siteCfg...)
}

// newSignedHandlerWith is newSignedHandler with the signing of d.
func newSignedHandlerWith(t testing.TB, zone string, d *dnssecConfig, siteCfg ...sites.Config) (*Hadns, *engine) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zone.yaml")
	if err := os.WriteFile(path, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config{origins: []string{"."}, files: []string{path}, sites: siteCfg, dnssec: d}
	snap, err := load(cfg)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	h := &Hadns{}
	e := newEngine(h, cfg, snap, newCheckerPool(healthcheck.Options{}))
	h.ready.Store(true)
	return h, e
}

func doQuery(name string, qtype uint16, do bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, do)
	return m
}

// zoneKeys returns the DNSKEY RRset the handler serves.
func zoneKeys(t *testing.T, h *Hadns) []*dns.DNSKEY {
	t.Helper()
	m := query(t, h, doQuery("example.test.", dns.TypeDNSKEY, true), tcpWriter())
	var keys []*dns.DNSKEY
	for _, rr := range m.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) != 2 {
		t.Fatalf("DNSKEY answer %v", m.Answer)
	}
	return keys
}

// validate checks what a validating resolver would of a reply from the
// zone: every RRset of the answer and authority sections, and those of the
// additional section that are the zone's own, is covered by an RRSIG from
// one of keys that verifies and is valid at now. A referral's NS set and
// glue, and a CNAME synthesized from a DNAME, are not signed; every other
// RRset must be. It returns the number of RRSIGs checked.
func validate(t *testing.T, m *dns.Msg, keys []*dns.DNSKEY, now time.Time) int {
	t.Helper()
	checked := 0
	referral := !m.Authoritative && len(m.Ns) > 0
	for si, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		type setKey struct {
			name string
			t    uint16
		}
		sets := map[setKey][]dns.RR{}
		sigs := map[setKey][]*dns.RRSIG{}
		var order []setKey
		for _, rr := range sec {
			h := rr.Header()
			switch rr := rr.(type) {
			case *dns.OPT:
				continue
			case *dns.RRSIG:
				k := setKey{strings.ToLower(h.Name), rr.TypeCovered}
				sigs[k] = append(sigs[k], rr)
				continue
			}
			k := setKey{strings.ToLower(h.Name), h.Rrtype}
			if _, ok := sets[k]; !ok {
				order = append(order, k)
			}
			sets[k] = append(sets[k], rr)
		}
		for _, k := range order {
			unsigned := referral && (si == 1 && k.t == dns.TypeNS || si == 2) ||
				!dns.IsSubDomain("example.test.", k.name) ||
				k.t == dns.TypeCNAME && slices.ContainsFunc(m.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeDNAME })
			if unsigned {
				if len(sigs[k]) > 0 {
					t.Errorf("%s/%s is signed, but is not the zone's own data", k.name, dns.TypeToString[k.t])
				}
				continue
			}
			if len(sigs[k]) == 0 {
				t.Errorf("%s/%s in section %d has no RRSIG:\n%v", k.name, dns.TypeToString[k.t], si, m)
				continue
			}
			for _, sig := range sigs[k] {
				var key *dns.DNSKEY
				for _, kk := range keys {
					if kk.KeyTag() == sig.KeyTag {
						key = kk
					}
				}
				if key == nil {
					t.Errorf("%s/%s: RRSIG key tag %d is not served", k.name, dns.TypeToString[k.t], sig.KeyTag)
					continue
				}
				if err := sig.Verify(key, sets[k]); err != nil {
					t.Errorf("%s/%s: RRSIG does not verify: %v", k.name, dns.TypeToString[k.t], err)
				}
				if !dnssec.Valid(sig, now) {
					t.Errorf("%s/%s: RRSIG %s not valid at %s", k.name, dns.TypeToString[k.t], sig, now)
				}
				if int(sig.Labels) != dns.CountLabel(k.name) {
					t.Errorf("%s/%s: RRSIG labels %d: a validator would look for a wildcard proof", k.name, dns.TypeToString[k.t], sig.Labels)
				}
				checked++
			}
		}
	}
	return checked
}

func hasRRSIG(m *dns.Msg) bool {
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeRRSIG || rr.Header().Rrtype == dns.TypeNSEC {
				return true
			}
		}
	}
	return false
}

// TestSignedAnswersValidate asks for every kind of answer with and without
// DO: with it, every RRset that must be signed is, and validates against
// the served DNSKEYs; without it, no DNSSEC record is sent and the reply is
// what an unsigned zone gives.
func TestSignedAnswersValidate(t *testing.T) {
	clock := healthchecktest.NewFakeClock(t0)
	h, _ := newSignedHandler(t, signedZone, clock, wireSites...)
	plain := newTestHandler(t, signedZone, wireSites...)
	keys := zoneKeys(t, h)
	for _, c := range []struct {
		name  string
		qtype uint16
		rcode int // with DO
		sigs  int // at least this many RRSIGs checked
	}{
		{"example.test.", dns.TypeSOA, dns.RcodeSuccess, 1},
		{"example.test.", dns.TypeNS, dns.RcodeSuccess, 2},     // NS, and ns1's address
		{"example.test.", dns.TypeDNSKEY, dns.RcodeSuccess, 1}, // by the KSK
		{"example.test.", dns.TypeCDS, dns.RcodeSuccess, 1},
		{"example.test.", dns.TypeCDNSKEY, dns.RcodeSuccess, 1},
		{"example.test.", dns.TypeMX, dns.RcodeSuccess, 2},
		{"mail.example.test.", dns.TypeA, dns.RcodeSuccess, 1},
		{"api.example.test.", dns.TypeA, dns.RcodeSuccess, 1},
		{"api.example.test.", dns.TypeAAAA, dns.RcodeSuccess, 1},
		{"_http._tcp.api.example.test.", dns.TypeSRV, dns.RcodeSuccess, 2},
		{"www.example.test.", dns.TypeA, dns.RcodeSuccess, 2},      // CNAME chain
		{"old.example.test.", dns.TypeA, dns.RcodeSuccess, 3},      // two CNAMEs
		{"x.wild.example.test.", dns.TypeTXT, dns.RcodeSuccess, 1}, // wildcard
		{"x.cn.example.test.", dns.TypeA, dns.RcodeSuccess, 2},     // wildcard CNAME
		{"nope.example.test.", dns.TypeA, dns.RcodeSuccess, 2},     // compact denial: NODATA
		{"dangling.example.test.", dns.TypeA, dns.RcodeSuccess, 3},
		{"mail.example.test.", dns.TypeAAAA, dns.RcodeSuccess, 2}, // NODATA
		{"lab.dc.example.test.", dns.TypeA, dns.RcodeSuccess, 2},  // empty non-terminal
		{"x.wild.example.test.", dns.TypeMX, dns.RcodeSuccess, 2}, // wildcard NODATA
		{"host.child.example.test.", dns.TypeA, dns.RcodeSuccess, 1},
		{"child.example.test.", dns.TypeDS, dns.RcodeSuccess, 2},
		{"host.secure.example.test.", dns.TypeA, dns.RcodeSuccess, 1},
		{"secure.example.test.", dns.TypeDS, dns.RcodeSuccess, 1},
		{"big.example.test.", dns.TypeTXT, dns.RcodeSuccess, 1},
		{"example.test.", dns.TypeANY, dns.RcodeSuccess, 1},
	} {
		for _, w := range []struct {
			name string
			w    func() dns.ResponseWriter
		}{{"udp", udpWriter}, {"tcp", tcpWriter}} {
			m := query(t, h, doQuery(c.name, c.qtype, true), w.w())
			if m.Rcode != c.rcode {
				t.Errorf("%s %s/%s DO: rcode %s, want %s", w.name, c.name, dns.TypeToString[c.qtype], dns.RcodeToString[m.Rcode], dns.RcodeToString[c.rcode])
			}
			if m.Truncated {
				continue
			}
			if n := validate(t, m, keys, clock.Now()); n < c.sigs {
				t.Errorf("%s %s/%s DO: %d RRSIGs, want at least %d:\n%v", w.name, c.name, dns.TypeToString[c.qtype], n, c.sigs, m)
			}
			if opt := m.IsEdns0(); opt == nil || !opt.Do() {
				t.Errorf("%s %s/%s: DO not echoed", w.name, c.name, dns.TypeToString[c.qtype])
			}
			// Without DO: exactly the unsigned zone's reply.
			q := doQuery(c.name, c.qtype, false)
			got, want := query(t, h, q, w.w()), query(t, plain, q, w.w())
			if hasRRSIG(got) {
				t.Errorf("%s %s/%s without DO carries DNSSEC records:\n%v", w.name, c.name, dns.TypeToString[c.qtype], got)
			}
			if c.name != "example.test." && normal(got) != normal(want) {
				t.Errorf("%s %s/%s without DO differs from the unsigned zone:\n%v\nwant\n%v", w.name, c.name, dns.TypeToString[c.qtype], got, want)
			}
		}
	}
}

// TestCompactDenial checks the negative answers of RFC 9824: NXDOMAIN is
// NOERROR with an NSEC owned by the name, next name its successor, bitmap
// RRSIG NSEC NXNAME; NODATA lists the name's types but not the one asked;
// an NXNAME query is FORMERR.
func TestCompactDenial(t *testing.T) {
	h, _ := newSignedHandler(t, signedZone, healthchecktest.NewFakeClock(t0), wireSites...)
	nsec := func(m *dns.Msg) *dns.NSEC {
		t.Helper()
		for _, rr := range m.Ns {
			if n, ok := rr.(*dns.NSEC); ok {
				return n
			}
		}
		t.Fatalf("no NSEC in\n%v", m)
		return nil
	}
	m := query(t, h, doQuery("Nope.Example.Test.", dns.TypeA, true), udpWriter())
	n := nsec(m)
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 || !strings.EqualFold(n.Hdr.Name, "nope.example.test.") ||
		n.NextDomain != "\\000.nope.example.test." || !slices.Equal(n.TypeBitMap, []uint16{dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNXNAME}) {
		t.Errorf("NXDOMAIN with DO:\n%v", m)
	}
	if n.Hdr.Ttl != 60 {
		t.Errorf("NSEC TTL %d, want the negative TTL 60", n.Hdr.Ttl)
	}
	m = query(t, h, doQuery("nope.example.test.", dns.TypeA, false), udpWriter())
	if m.Rcode != dns.RcodeNameError || hasRRSIG(m) {
		t.Errorf("NXDOMAIN without DO:\n%v", m)
	}
	m = query(t, h, doQuery("mail.example.test.", dns.TypeAAAA, true), udpWriter())
	if n := nsec(m); !slices.Equal(n.TypeBitMap, []uint16{dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC}) {
		t.Errorf("NODATA bitmap %v, want A RRSIG NSEC", n.TypeBitMap)
	}
	m = query(t, h, doQuery("example.test.", dns.TypeAAAA, true), udpWriter())
	if n := nsec(m); !slices.Equal(n.TypeBitMap, []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeMX, dns.TypeTXT, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY}) {
		t.Errorf("apex NODATA bitmap %v", n.TypeBitMap)
	}
	// A service name with IPv4 and IPv6 backends: asked for TXT.
	m = query(t, h, doQuery("api.example.test.", dns.TypeTXT, true), udpWriter())
	if n := nsec(m); !slices.Equal(n.TypeBitMap, []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeRRSIG, dns.TypeNSEC}) {
		t.Errorf("service NODATA bitmap %v", n.TypeBitMap)
	}
	// Delegation without DS: the NSEC at the cut says NS and no DS.
	m = query(t, h, doQuery("host.child.example.test.", dns.TypeA, true), udpWriter())
	if n := nsec(m); !strings.EqualFold(n.Hdr.Name, "child.example.test.") || !slices.Equal(n.TypeBitMap, []uint16{dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC}) || m.Authoritative {
		t.Errorf("insecure referral:\n%v", m)
	}
	// The NSEC of a name that exists is its answer to an NSEC query.
	m = query(t, h, doQuery("mail.example.test.", dns.TypeNSEC, true), udpWriter())
	if len(m.Answer) != 2 || m.Answer[0].Header().Rrtype != dns.TypeNSEC || !slices.Equal(m.Answer[0].(*dns.NSEC).TypeBitMap, []uint16{dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC}) {
		t.Errorf("NSEC query:\n%v", m)
	}
	validate(t, m, zoneKeys(t, h), t0)
	for _, do := range []bool{true, false} {
		m = query(t, h, doQuery("nope.example.test.", dns.TypeNXNAME, do), udpWriter())
		if m.Rcode != dns.RcodeFormatError {
			t.Errorf("NXNAME query (DO %v): rcode %s, want FORMERR", do, dns.RcodeToString[m.Rcode])
		}
	}
	// An unsigned zone keeps its old behaviour for NXNAME.
	plain := newTestHandler(t, signedZone, wireSites...)
	if m := query(t, plain, doQuery("nope.example.test.", dns.TypeNXNAME, true), udpWriter()); m.Rcode != dns.RcodeNameError {
		t.Errorf("unsigned zone, NXNAME: rcode %s", dns.RcodeToString[m.Rcode])
	}
}

type question struct {
	name  string
	qtype uint16
}

// packedQuestions have precomputed answers: service A and SRV, static
// records, the apex's DNSKEY, an MX whose target's address is additional
// data.
var packedQuestions = []question{
	{"api.example.test.", dns.TypeA},
	{"_http._tcp.api.example.test.", dns.TypeSRV},
	{"mail.example.test.", dns.TypeA},
	{"example.test.", dns.TypeDNSKEY},
	{"example.test.", dns.TypeMX},
}

// TestSignedPackedPath checks that a signed answer that was precomputed
// goes out as bytes, with no allocation, and that its twin holds what the
// general path would send.
func TestSignedPackedPath(t *testing.T) {
	h, _ := newSignedHandler(t, signedZone, healthchecktest.NewFakeClock(t0), wireSites...)
	keys := zoneKeys(t, h)
	for _, q := range packedQuestions {
		m := doQuery(q.name, q.qtype, true)
		cw := &captureWriter{ResponseWriter: udpWriter()}
		if _, err := h.ServeDNS(context.Background(), request.NewScrubWriter(m, cw), m); err != nil {
			t.Fatal(err)
		}
		if cw.msgs != 0 {
			t.Errorf("%s/%s: signed reply built per query, not copied", q.name, dns.TypeToString[q.qtype])
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(cw.wire); err != nil {
			t.Fatal(err)
		}
		validate(t, resp, keys, t0)
		if !hasRRSIG(resp) {
			t.Errorf("%s/%s: no RRSIG in the packed reply", q.name, dns.TypeToString[q.qtype])
		}
		slow := slowQuery(t, h, m, udpWriter())
		if normal(slow) != normal(resp) {
			t.Errorf("%s/%s: packed signed reply differs from the general path's:\n%v\nwant\n%v", q.name, dns.TypeToString[q.qtype], resp, slow)
		}
	}
	m := doQuery("api.example.test.", dns.TypeA, true)
	w := request.NewScrubWriter(m, &discardWire{addrWriter{remote: &net.UDPAddr{IP: net.IPv4(10, 1, 0, 9), Port: 53}}})
	if n := testing.AllocsPerRun(200, func() { h.ServeDNS(context.Background(), w, m) }); n != 0 {
		t.Errorf("signed service A with DO: %v allocations per query, want 0", n)
	}
}

// TestSignedTruncation: a signed reply too big for the client's UDP size
// sets TC rather than go out without the RRSIGs of its answer (RFC 4035
// 3.1.1), so the resolver retries over TCP.
func TestSignedTruncation(t *testing.T) {
	h, _ := newSignedHandler(t, signedZone, healthchecktest.NewFakeClock(t0), wireSites...)
	m := new(dns.Msg)
	m.SetQuestion("big.example.test.", dns.TypeTXT)
	m.SetEdns0(512, true)
	resp := query(t, h, m, udpWriter())
	if !resp.Truncated {
		t.Fatalf("signed big TXT in 512 bytes not truncated:\n%v", resp)
	}
	// The same with room for it: whole and signed.
	m.SetEdns0(1232, true)
	resp = query(t, h, m, udpWriter())
	if resp.Truncated || validate(t, resp, zoneKeys(t, h), t0) < 1 {
		t.Errorf("signed big TXT in 1232 bytes:\n%v", resp)
	}
}

// TestSignatureRefresh runs the refresh loop on a fake clock for 60 days:
// at every hour of it, every signature served is valid, and signatures are
// replaced before they expire.
func TestSignatureRefresh(t *testing.T) {
	clock := healthchecktest.NewFakeClock(t0)
	h, e := newSignedHandler(t, signedZone, clock, wireSites...)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		e.signLoop(done)
	}()
	t.Cleanup(func() {
		close(done)
		<-stopped
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := clock.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	keys := zoneKeys(t, h)
	inceptions := map[uint32]bool{}
	// The packed answers, a compact denial and a wildcard, both signed
	// per query.
	questions := append(slices.Clone(packedQuestions), question{"nope.example.test.", dns.TypeA}, question{"x.wild.example.test.", dns.TypeTXT})
	for hour := range 60 * 24 {
		if hour > 0 {
			clock.Advance(time.Hour)
			if err := clock.BlockUntil(ctx, 1); err != nil {
				t.Fatal(err)
			}
		}
		if hour%6 != 0 {
			continue
		}
		now := clock.Now()
		for _, q := range questions {
			m := query(t, h, doQuery(q.name, q.qtype, true), tcpWriter())
			validate(t, m, keys, now)
			for _, rr := range m.Answer {
				if s, ok := rr.(*dns.RRSIG); ok {
					inceptions[s.Inception] = true
				}
			}
		}
		if t.Failed() {
			t.Fatalf("at %s (hour %d)", now, hour)
		}
	}
	if len(inceptions) < 4 {
		t.Errorf("signatures made at %d moments over 60 days; they should have been refreshed several times", len(inceptions))
	}
}

// TestSignedHealthChange: a backend going down changes the signed answer
// too, and every reply before and after validates; a site's fallback
// answer validates.
func TestSignedHealthChange(t *testing.T) {
	sigClock := healthchecktest.NewFakeClock(t0)
	r := newHealthRigWith(t, func(cfg *config) { cfg.dnssec = signedConfig(t, sigClock) })
	r.until("ready", r.h.Ready)
	keys := zoneKeys(t, r.h)
	ask := func(from string) *dns.Msg {
		m := query(t, r.h, doQuery("api.example.test.", dns.TypeA, true), &test.ResponseWriter{RemoteIP: from})
		if validate(t, m, keys, sigClock.Now()) < 1 {
			t.Fatalf("unsigned answer:\n%v", m)
		}
		return m
	}
	if got := zonetest.AddrsOf(ask("10.1.9.9").Answer); !slices.Equal(got, []string{"10.1.0.1", "10.1.0.2"}) {
		t.Fatalf("healthy east answer %v", got)
	}
	r.prober.set(true, "10.1.0.1")
	r.until("10.1.0.1 gone", func() bool { return !slices.Contains(zonetest.AddrsOf(ask("10.1.9.9").Answer), "10.1.0.1") })
	r.prober.set(true, "10.1.0.2")
	r.until("east falls back to west", func() bool {
		return slices.Equal(zonetest.AddrsOf(ask("10.1.9.9").Answer), []string{"10.2.0.1", "10.2.0.2"})
	})
	if e := ede(ask("10.1.9.9")); e == nil || !strings.HasPrefix(e.ExtraText, "fallback:") {
		t.Errorf("signed fallback answer lost its EDE: %v", e)
	}
	srv := query(t, r.h, doQuery("_http._tcp.api.example.test.", dns.TypeSRV, true), &test.ResponseWriter{RemoteIP: "10.1.9.9"})
	validate(t, srv, keys, sigClock.Now())
}

func TestDNSSECSetup(t *testing.T) {
	keys, err := filepath.Abs(filepath.Join("..", "zones", "keys"))
	if err != nil {
		t.Fatal(err)
	}
	ksk := filepath.Join(keys, "Kexample.test.+013.ksk.NOT-FOR-PRODUCTION")
	zsk := filepath.Join(keys, "Kexample.test.+013.zsk.NOT-FOR-PRODUCTION")
	for _, c := range []struct {
		body string
		want string // "" for success
	}{
		{"dnssec example.test. " + ksk + " " + zsk, ""},
		{"dnssec example.test " + ksk + ".key " + zsk + ".private\ndnssec_validity 720h\ndnssec_refresh 240h", ""},
		{"dnssec example.test. " + ksk + " publish " + zsk, ""},
		{"dnssec example.test.", "want ZONE KEY..."},
		{"dnssec example.test. /nonexistent/Kx", "no such file"},
		{"dnssec other.test. " + ksk, `key is for zone "example.test."`},
		{"dnssec example.test. " + zsk, "needs a KSK"},
		{"dnssec example.test. " + ksk + "\ndnssec example.test. " + zsk, "give all its keys on one line"},
		{"dnssec_validity 48h", "needs a `dnssec ZONE KEY...` line"},
		{"dnssec example.test. " + ksk + "\ndnssec_validity 48h", "must be longer than refresh"},
		{"dnssec example.test. " + ksk + "\ndnssec_refresh soon", "not a duration"},
		{"dnssec example.test. " + ksk + " publish", "publish needs at least one key"},
	} {
		c2 := caddy.NewTestController("dns", "hadns example.test {\n zone z.yaml\n "+c.body+"\n}")
		h, cfg, err := parse(c2)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.body, err)
		case c.want == "" && (cfg.dnssec.signerFor("example.test.") == nil || h.dnssec != cfg.dnssec):
			t.Errorf("%q: no signer for example.test.", c.body)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want one containing %q", c.body, err, c.want)
		case c.want != "" && !strings.Contains(err.Error(), "Testfile:"):
			t.Errorf("%q: error %v does not name the Corefile line", c.body, err)
		}
	}
}

// signedFuzzHandler serves signedZone signed, for FuzzServeDNS: queries
// with DO take every signing path.
func signedFuzzHandler(tb testing.TB) *Hadns {
	tb.Helper()
	h, _ := newSignedHandler(tb, signedZone, healthcheck.SystemClock{}, wireSites...)
	return h
}

func mustPackDO(tb testing.TB, name string, qtype uint16) []byte {
	tb.Helper()
	b, err := doQuery(name, qtype, true).Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestSignedRollover follows the README's ZSK rollover: a new ZSK is
// published beside the one that signs, then signs while the old one stays
// published, then is alone. At each step the DNSKEY RRset holds the keys
// it should, answers are signed by the active ZSK only, and everything
// validates against the served keys.
func TestSignedRollover(t *testing.T) {
	keys := exampleKeys(t)
	ksk, oldZSK := keys[0], keys[1]
	newZSK, err := dnssec.GenerateKey("example.test.", dns.ECDSAP256SHA256, false)
	if err != nil {
		t.Fatal(err)
	}
	clock := healthchecktest.NewFakeClock(t0)
	for _, step := range []struct {
		name          string
		sign, publish *dnssec.Key
	}{
		{"new ZSK published", oldZSK, newZSK},
		{"new ZSK signs, old one published", newZSK, oldZSK},
		{"old ZSK gone", newZSK, nil},
	} {
		var published []*dnssec.Key
		if step.publish != nil {
			published = append(published, step.publish)
		}
		s, err := dnssec.NewSigner("example.test.", []*dnssec.Key{ksk, step.sign}, dnssec.Options{Published: published})
		if err != nil {
			t.Fatal(err)
		}
		d := &dnssecConfig{zones: map[string]*zone.Signer{"example.test.": zone.NewSigner(s, clock.Now)}, clock: clock}
		h, _ := newSignedHandlerWith(t, signedZone, d, wireSites...)
		m := query(t, h, doQuery("example.test.", dns.TypeDNSKEY, true), tcpWriter())
		var served []*dns.DNSKEY
		var tags []uint16
		for _, rr := range m.Answer {
			if k, ok := rr.(*dns.DNSKEY); ok {
				served = append(served, k)
				tags = append(tags, k.KeyTag())
			}
		}
		want := []uint16{ksk.Tag, step.sign.Tag}
		if step.publish != nil {
			want = append(want, step.publish.Tag)
		}
		if !slices.Equal(tags, want) {
			t.Errorf("%s: DNSKEY tags %v, want %v", step.name, tags, want)
		}
		validate(t, m, served, t0)
		for _, q := range append(slices.Clone(packedQuestions), question{"nope.example.test.", dns.TypeA}, question{"www.example.test.", dns.TypeA}) {
			m := query(t, h, doQuery(q.name, q.qtype, true), tcpWriter())
			validate(t, m, served, t0)
			for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
				for _, rr := range sec {
					if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered != dns.TypeDNSKEY && sig.KeyTag != step.sign.Tag {
						t.Errorf("%s: %s/%s signed by key %d, want the active ZSK %d", step.name, q.name, dns.TypeToString[q.qtype], sig.KeyTag, step.sign.Tag)
					}
				}
			}
		}
	}
}
