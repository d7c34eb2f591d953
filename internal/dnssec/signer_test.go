package dnssec

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSign signs RRsets with each algorithm, with a KSK/ZSK pair and with a
// combined key, and verifies each RRSIG against the DNSKEY RRset (RFC 4034
// 3.1, RFC 4035 5.3): KSK for DNSKEY, CDS and CDNSKEY, ZSK for the rest.
func TestSign(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		for _, csk := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/csk=%v", dns.AlgorithmToString[alg], csk), func(t *testing.T) {
				s := newSigner(t, alg, csk, Options{})
				sets := map[uint16][]dns.RR{
					dns.TypeA: rrset(t,
						"www.example.test. 30 IN A 192.0.2.1",
						"www.example.test. 30 IN A 192.0.2.2",
						"www.example.test. 30 IN A 192.0.2.3"),
					dns.TypeSRV: rrset(t,
						"_http._tcp.Example.TEST. 30 IN SRV 10 5 80 B1.example.test.",
						"_http._tcp.Example.TEST. 30 IN SRV 20 5 80 b2.example.test."),
					dns.TypeDNSKEY:  s.DNSKEY(3600),
					dns.TypeCDS:     s.CDS(3600),
					dns.TypeCDNSKEY: s.CDNSKEY(3600),
				}
				for typ, set := range sets {
					sig, err := s.Sign(set, t0)
					if err != nil {
						t.Fatal(err)
					}
					verify(t, s, sig, set, t0)
					want := s.zsk.Tag
					if typ == dns.TypeDNSKEY || typ == dns.TypeCDS || typ == dns.TypeCDNSKEY {
						want = s.ksk.Tag
					}
					if sig.KeyTag != want {
						t.Errorf("%s signed by key %d, want %d", dns.TypeToString[typ], sig.KeyTag, want)
					}
					if sig.Hdr.Ttl != set[0].Header().Ttl || sig.OrigTtl != set[0].Header().Ttl {
						t.Errorf("%s RRSIG TTL %d original TTL %d, want the RRset's %d", dns.TypeToString[typ], sig.Hdr.Ttl, sig.OrigTtl, set[0].Header().Ttl)
					}
					if sig.SignerName != zone {
						t.Errorf("signer name %q, want %q", sig.SignerName, zone)
					}
					if s.NeedsRefresh(sig, t0) {
						t.Errorf("a fresh %s signature needs refresh", dns.TypeToString[typ])
					}
				}
				// The DNSKEY RRset has the zone's keys: two, or one CSK.
				if n, want := len(sets[dns.TypeDNSKEY]), map[bool]int{false: 2, true: 1}[csk]; n != want {
					t.Errorf("DNSKEY RRset has %d keys, want %d", n, want)
				}
			})
		}
	}
}

// TestSignTimes checks inception and expiration: inception back-dated by the
// skew, expiration inception + validity - jitter.
func TestSignTimes(t *testing.T) {
	s := exampleSigner(t, Options{})
	set := rrset(t, "www.example.test. 30 IN A 192.0.2.1")
	for _, j := range []time.Duration{0, 5 * time.Hour, DefaultJitter} {
		s.jitter = func(n time.Duration) time.Duration {
			if n != DefaultJitter {
				t.Fatalf("jitter drawn in [0, %s], want [0, %s]", n, DefaultJitter)
			}
			return j
		}
		sig, err := s.Sign(set, t0)
		if err != nil {
			t.Fatal(err)
		}
		inc := t0.Add(-DefaultSkew)
		if got := time.Unix(int64(sig.Inception), 0); !got.Equal(inc) {
			t.Errorf("inception %s, want %s", got, inc)
		}
		if got, want := time.Unix(int64(sig.Expiration), 0), inc.Add(DefaultValidity-j); !got.Equal(want) {
			t.Errorf("jitter %s: expiration %s, want %s", j, got, want)
		}
		if got, want := s.RefreshAt(sig, t0), inc.Add(DefaultValidity-j-DefaultRefresh); !got.Equal(want) {
			t.Errorf("jitter %s: refresh at %s, want %s", j, got, want)
		}
	}
}

func TestSignWildcard(t *testing.T) {
	s := exampleSigner(t, Options{})
	set := rrset(t, "*.svc.example.test. 30 IN A 192.0.2.1")
	sig, err := s.Sign(set, t0)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 4034 3.1.3: the label count leaves out the wildcard label.
	if sig.Labels != 3 {
		t.Fatalf("labels %d, want 3", sig.Labels)
	}
	// The expanded answer, owner and RRSIG owner rewritten, still verifies.
	exp := rrset(t, "a.b.svc.example.test. 30 IN A 192.0.2.1")
	sig.Hdr.Name = "a.b.svc.example.test."
	verify(t, s, sig, exp, t0)
}

func TestSignErrors(t *testing.T) {
	s := exampleSigner(t, Options{})
	tests := []struct {
		name string
		set  []dns.RR
		want string
	}{
		{"empty", nil, "empty RRset"},
		{"mixed", rrset(t, "a.example.test. 30 IN A 192.0.2.1", "b.example.test. 30 IN A 192.0.2.1"), "differ"},
		{"outside", rrset(t, "a.example.org. 30 IN A 192.0.2.1"), "not in zone"},
		{"rrsig", []dns.RR{&dns.RRSIG{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET}}}, "not signed"},
	}
	for _, tc := range tests {
		if _, err := s.Sign(tc.set, t0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Sign error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

// TestRefreshNeverExpired runs a zone's signatures through 400 days of an
// injected clock: a refresh timer set to NextRefresh re-signs what
// NeedsRefresh says is due, queries come at random times in between, and
// every signature a query would see must be valid with at least Refresh of
// life left (so at least a week for a resolver to cache it). A second run
// fires the timer up to 2 days late (a paused process): signatures must still
// be valid.
func TestRefreshNeverExpired(t *testing.T) {
	for _, late := range []time.Duration{0, 48 * time.Hour} {
		t.Run(fmt.Sprintf("late=%s", late), func(t *testing.T) {
			s := exampleSigner(t, Options{})
			rng := rand.New(rand.NewPCG(1, uint64(late)))
			sets := make([][]dns.RR, 40)
			sigs := make([]*dns.RRSIG, len(sets))
			now := t0
			for i := range sets {
				sets[i] = rrset(t, fmt.Sprintf("s%d.example.test. 30 IN A 192.0.2.%d", i, i))
				sig, err := s.Sign(sets[i], now)
				if err != nil {
					t.Fatal(err)
				}
				sigs[i] = sig
			}
			end := t0.Add(400 * 24 * time.Hour)
			refreshes := 0
			for step := 0; step < 100000 && now.Before(end); step++ {
				timer := s.NextRefresh(sigs, now).Add(time.Duration(rng.Int64N(int64(late) + 1)))
				query := now.Add(time.Duration(rng.Int64N(int64(12 * time.Hour))))
				if query.Before(timer) {
					now = query
					for i, sig := range sigs {
						if !sig.ValidityPeriod(now) {
							t.Fatalf("%s: expired or not yet valid signature handed out for set %d: %s", now, i, sig)
						}
						if left := sigTime(sig.Expiration, now).Sub(now); left < DefaultRefresh-late {
							t.Fatalf("%s: signature handed out with %s left, want at least %s", now, left, DefaultRefresh-late)
						}
					}
					continue
				}
				now = timer
				for i, sig := range sigs {
					if s.NeedsRefresh(sig, now) {
						if sigs[i], _ = s.Sign(sets[i], now); sigs[i] == nil {
							t.Fatal("sign failed")
						}
						refreshes++
					}
				}
			}
			if !now.After(end) && !now.Equal(end) {
				t.Fatalf("simulation stopped at %s before %s", now, end)
			}
			// 400 days at one refresh per 6-7 days per RRset.
			if min := len(sets) * 50; refreshes < min {
				t.Fatalf("%d refreshes, want at least %d", refreshes, min)
			}
		})
	}
}

// TestRefreshSpread signs many RRsets at one instant, as after a start or a
// health change, and checks their refresh times spread across the jitter
// window (so they don't all fall due together) and stay inside it.
func TestRefreshSpread(t *testing.T) {
	s := exampleSigner(t, Options{})
	set := rrset(t, "www.example.test. 30 IN A 192.0.2.1")
	earliest := t0.Add(-DefaultSkew + DefaultValidity - DefaultJitter - DefaultRefresh)
	latest := earliest.Add(DefaultJitter)
	const n = 500
	var sigs []*dns.RRSIG
	buckets := make([]int, 24) // hours of the jitter window
	for range n {
		sig, err := s.Sign(set, t0)
		if err != nil {
			t.Fatal(err)
		}
		at := s.RefreshAt(sig, t0)
		if at.Before(earliest) || at.After(latest) {
			t.Fatalf("refresh at %s outside [%s, %s]", at, earliest, latest)
		}
		buckets[int(at.Sub(earliest)/time.Hour)%24]++
		sigs = append(sigs, sig)
	}
	// Uniform over 24 hours: about 21 a bucket. A burst (all in a few hours)
	// leaves most buckets empty.
	for h, c := range buckets {
		if c == 0 || c > n/6 {
			t.Fatalf("hour %d of the jitter window has %d of %d refreshes: not spread (%v)", h, c, n, buckets)
		}
	}
	if next := s.NextRefresh(sigs, t0); next.Before(earliest) || next.After(earliest.Add(2*time.Hour)) {
		t.Fatalf("NextRefresh %s, want the earliest, near %s", next, earliest)
	}
}

func TestNextRefresh(t *testing.T) {
	s := exampleSigner(t, Options{Jitter: -1})
	if got := s.NextRefresh(nil, t0); !got.IsZero() {
		t.Fatalf("NextRefresh(nil) = %s, want zero", got)
	}
	set := rrset(t, "www.example.test. 30 IN A 192.0.2.1")
	old, _ := s.Sign(set, t0)
	young, _ := s.Sign(set, t0.Add(3*time.Hour))
	want := t0.Add(-DefaultSkew + DefaultValidity - DefaultRefresh)
	if got := s.NextRefresh([]*dns.RRSIG{young, nil, old}, t0.Add(3*time.Hour)); !got.Equal(want) {
		t.Fatalf("NextRefresh = %s, want %s (the older signature's)", got, want)
	}
	if s.NeedsRefresh(old, want.Add(-time.Second)) || !s.NeedsRefresh(old, want) {
		t.Fatal("NeedsRefresh does not turn true exactly at RefreshAt")
	}
	// A signature from the future (clock stepped back) must be re-made.
	if !s.NeedsRefresh(young, t0.Add(-2*time.Hour)) {
		t.Fatal("a signature not yet valid does not need refresh")
	}
}

// TestSignTimeWrap signs just before the 32-bit time field wraps (2106,
// RFC 4034 3.1.5 serial arithmetic): the expiration is numerically smaller
// than the inception and must still read as two weeks ahead.
func TestSignTimeWrap(t *testing.T) {
	s := exampleSigner(t, Options{Jitter: -1})
	now := time.Unix(1<<32-3600, 0)
	set := rrset(t, "www.example.test. 30 IN A 192.0.2.1")
	sig, err := s.Sign(set, now)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Expiration > sig.Inception {
		t.Fatalf("expiration %d did not wrap", sig.Expiration)
	}
	verify(t, s, sig, set, now)
	if s.NeedsRefresh(sig, now) {
		t.Fatal("fresh signature across the wrap needs refresh")
	}
	if got, want := s.RefreshAt(sig, now), now.Add(-DefaultSkew+DefaultValidity-DefaultRefresh); !got.Equal(want) {
		t.Fatalf("RefreshAt = %s, want %s", got, want)
	}
}

func TestValid(t *testing.T) {
	sig := &dns.RRSIG{Inception: uint32(t0.Unix()), Expiration: uint32(t0.Add(time.Hour).Unix())}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(-time.Second), false},
		{t0, true},
		{t0.Add(time.Hour), true},
		{t0.Add(time.Hour + time.Second), false},
	} {
		if got := Valid(sig, tc.at); got != tc.want {
			t.Errorf("Valid at %s = %v, want %v", tc.at, got, tc.want)
		}
	}
}

// TestPublished checks a published key (a ZSK rollover's next key) is in the
// DNSKEY RRset, which the KSK's signature still covers, and signs nothing.
func TestPublished(t *testing.T) {
	ksk, _ := GenerateKey(zone, dns.ECDSAP256SHA256, true)
	zsk, _ := GenerateKey(zone, dns.ECDSAP256SHA256, false)
	next, _ := GenerateKey(zone, dns.ECDSAP256SHA256, false)
	s, err := NewSigner(zone, []*Key{zsk, ksk}, Options{Published: []*Key{next}})
	if err != nil {
		t.Fatal(err)
	}
	keys := s.DNSKEY(3600)
	if len(keys) != 3 || keys[0].(*dns.DNSKEY).KeyTag() != ksk.Tag || keys[2].(*dns.DNSKEY).KeyTag() != next.Tag {
		t.Fatalf("DNSKEY RRset %v, want KSK, ZSK, published key", keys)
	}
	sig, err := s.Sign(keys, t0)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, s, sig, keys, t0)
	set := rrset(t, "www.example.test. 30 IN A 192.0.2.1")
	if sig, _ := s.Sign(set, t0); sig.KeyTag != zsk.Tag {
		t.Fatalf("A RRset signed by %d, want the active ZSK %d, not the published %d", sig.KeyTag, zsk.Tag, next.Tag)
	}
}

// TestSignRotations checks what the plugin relies on to sign rotations once:
// an RRSIG covers the RRset in canonical order (RFC 4034 6.3), so the same
// records in another order verify against it.
func TestSignRotations(t *testing.T) {
	s := exampleSigner(t, Options{})
	set := rrset(t, "www.example.test. 30 IN A 192.0.2.1", "www.example.test. 30 IN A 192.0.2.2", "www.example.test. 30 IN A 192.0.2.3")
	sig, err := s.Sign(set, t0)
	if err != nil {
		t.Fatal(err)
	}
	for r := range set {
		rot := append(append([]dns.RR(nil), set[r:]...), set[:r]...)
		verify(t, s, sig, rot, t0)
	}
	if err := sig.Verify(s.zsk.DNSKEY, set[:2]); err == nil {
		t.Fatal("signature of three records verified over two of them")
	}
}

// TestSignConcurrent signs from several goroutines at once, as a refresh
// timer and a health change may; run with -race.
func TestSignConcurrent(t *testing.T) {
	s := exampleSigner(t, Options{})
	set := rrset(t, "www.example.test. 30 IN A 192.0.2.1")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			var err error
			for range 20 {
				var sig *dns.RRSIG
				if sig, err = s.Sign(set, t0); err == nil {
					err = sig.Verify(s.zsk.DNSKEY, set)
				}
				if err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
