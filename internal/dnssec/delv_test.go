package dnssec

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// delvZone is a small authoritative server for the test zone that answers
// the way the plugin will: precomputed signed RRsets, compact denial for
// names and types that do not exist, and wildcard answers signed with the
// query name as owner.
type delvZone struct {
	s     *Signer
	now   time.Time
	sets  map[string]map[uint16][]dns.RR // name -> type -> RRset and its RRSIG
	soa   []dns.RR
	wild  string // *.wild.example.test. A, synthesized per name
	mu    sync.Mutex
	fails []error
}

func (z *delvZone) fail(err error) {
	z.mu.Lock()
	z.fails = append(z.fails, err)
	z.mu.Unlock()
}

func (z *delvZone) add(t *testing.T, set []dns.RR) {
	t.Helper()
	sig, err := z.s.Sign(set, z.now)
	if err != nil {
		t.Fatal(err)
	}
	h := set[0].Header()
	if z.sets[h.Name] == nil {
		z.sets[h.Name] = map[uint16][]dns.RR{}
	}
	z.sets[h.Name][h.Rrtype] = append(append([]dns.RR(nil), set...), sig)
}

func (z *delvZone) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.SetEdns0(1232, true)
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	types, exists := z.sets[name]
	switch {
	case exists && types[q.Qtype] != nil:
		m.Answer = types[q.Qtype]
	case !exists && strings.HasSuffix(name, ".wild."+zone) && q.Qtype == dns.TypeA:
		rr, _ := dns.NewRR(name + " 30 IN A 192.0.2.7")
		sig, err := z.s.Sign([]dns.RR{rr}, z.now)
		if err != nil {
			z.fail(err)
		}
		m.Answer = []dns.RR{rr, sig}
	default:
		var have []uint16
		for t := range types {
			have = append(have, t)
		}
		nsec, sig, err := z.s.Denial(name, exists, have, 300, z.now)
		if err != nil {
			z.fail(err)
		}
		m.Ns = append(append([]dns.RR(nil), z.soa...), nsec, sig)
	}
	if err := w.WriteMsg(m); err != nil {
		z.fail(err)
	}
}

// TestDelvValidates has BIND's validator, delv (bind9-dnsutils), resolve
// names of a zone served with this package's signatures, the zone's KSK as
// its trust anchor: a signed answer, a wildcard answer signed per name, and
// the compact denials of RFC 9824 (a name that does not exist, a type that
// does not exist) must all validate, and an answer whose RRSIG does not
// match must not.
func TestDelvValidates(t *testing.T) {
	bin, err := exec.LookPath("delv")
	if err != nil {
		t.Fatal("delv not found: install bind9-dnsutils (CI does)")
	}
	s := exampleSigner(t, Options{})
	// Signatures made now: delv validates against the wall clock.
	z := &delvZone{s: s, now: time.Now(), sets: map[string]map[uint16][]dns.RR{}}
	z.add(t, rrset(t, "example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 300"))
	z.soa = z.sets[zone][dns.TypeSOA]
	z.add(t, rrset(t, "example.test. 3600 IN NS ns1.example.test."))
	z.add(t, s.DNSKEY(3600))
	z.add(t, rrset(t, "ns1.example.test. 3600 IN A 127.0.0.1"))
	z.add(t, rrset(t, "www.example.test. 30 IN A 192.0.2.1", "www.example.test. 30 IN A 192.0.2.2"))
	z.add(t, rrset(t, "bad.example.test. 30 IN A 192.0.2.9"))
	// bad's RRSIG covers another address than the one served.
	z.sets["bad.example.test."][dns.TypeA][0].(*dns.A).A = net.ParseIP("192.0.2.10")

	// delv asks over UDP and TCP: one free port for both.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; pc == nil && try < 10; try++ {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if pc, err = net.ListenPacket("udp", ln.Addr().String()); err != nil {
			ln.Close()
		}
	}
	if pc == nil {
		t.Fatalf("no free port for both UDP and TCP: %v", err)
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: z}, {Listener: ln, Handler: z}} {
		go srv.ActivateAndServe()
		t.Cleanup(func() { srv.Shutdown() })
	}

	ksk := s.ksk.DNSKEY
	anchor := filepath.Join(t.TempDir(), "anchor.conf")
	conf := "trust-anchors {\n  \"" + zone + "\" static-key " + strconv.Itoa(int(ksk.Flags)) + " " +
		strconv.Itoa(int(ksk.Protocol)) + " " + strconv.Itoa(int(ksk.Algorithm)) + " \"" + ksk.PublicKey + "\";\n};\n"
	if err := os.WriteFile(anchor, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(pc.LocalAddr().String())
	delv := func(name, qtype string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "@127.0.0.1", "-p", port, "-a", anchor, "+root="+zone,
			name, qtype).CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		name, qtype string
		want        []string
	}{
		{"www.example.test.", "A", []string{"; fully validated", "192.0.2.1", "192.0.2.2"}},
		{"a.b.wild.example.test.", "A", []string{"; fully validated", "192.0.2.7"}},
		// delv 9.18 prints NXNAME as TYPE128.
		{"nope.example.test.", "A", []string{"; negative response, fully validated", `NSEC \000.nope.example.test. RRSIG NSEC TYPE128`}},
		{"www.example.test.", "TXT", []string{"; negative response, fully validated", `NSEC \000.www.example.test. A RRSIG NSEC`}},
		{"example.test.", "DNSKEY", []string{"; fully validated", ksk.PublicKey[:20]}},
	} {
		out, err := delv(tc.name, tc.qtype)
		if err != nil {
			t.Errorf("delv %s %s: %v\n%s", tc.name, tc.qtype, err, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("delv %s %s does not say %q:\n%s", tc.name, tc.qtype, w, out)
			}
		}
	}
	if out, _ := delv("bad.example.test.", "A"); strings.Contains(out, "fully validated") || strings.Contains(out, "192.0.2.10") {
		t.Errorf("delv accepted an answer whose RRSIG does not match:\n%s", out)
	} else if !strings.Contains(out, "resolution failed") {
		t.Errorf("delv did not fail on an answer whose RRSIG does not match:\n%s", out)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.fails) > 0 {
		t.Fatalf("server: %v", z.fails)
	}
}
