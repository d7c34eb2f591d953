package main

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestCorednsZoneParses(t *testing.T) {
	srv, err := dns.NewRR("_http._tcp.api.bench.test. 10 IN SRV 1 1 8080 127-0-60-1.api.bench.test.")
	if err != nil {
		t.Fatal(err)
	}
	glue, err := dns.NewRR("127-0-60-1.api.bench.test. 10 IN A 127.0.60.1")
	if err != nil {
		t.Fatal(err)
	}
	text := corednsZone([]dns.RR{srv, glue, srv}) // the duplicate goes once
	zp := dns.NewZoneParser(strings.NewReader(text), "", "bench.zone")
	counts := map[uint16]int{}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		counts[rr.Header().Rrtype]++
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone does not parse: %v\n%s", err, text)
	}
	if counts[dns.TypeSOA] != 1 || counts[dns.TypeNS] != 1 || counts[dns.TypeSRV] != 1 || counts[dns.TypeMX] != 1 {
		t.Errorf("record counts %v\n%s", counts, text)
	}
	if counts[dns.TypeA] != 4 { // ns1, www, mail, the SRV target
		t.Errorf("%d A records, want 4\n%s", counts[dns.TypeA], text)
	}
}

func TestHadnsZoneHasEveryBackend(t *testing.T) {
	svcs := services()
	for _, s := range svcs {
		for _, h := range s.hosts {
			s.addrs = append(s.addrs, h+":4242")
		}
	}
	z := hadnsZone(svcs)
	for _, s := range svcs {
		for i, h := range s.hosts {
			want := "{address: " + h + ", port: 4242, site: " + s.sites[i] + "}"
			if !strings.Contains(z, want) {
				t.Errorf("zone lacks %q:\n%s", want, z)
			}
		}
	}
}

func TestSameRecords(t *testing.T) {
	msg := func(rrs ...string) *dns.Msg {
		m := new(dns.Msg)
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		return m
	}
	a := msg("api.bench.test. 10 IN A 127.0.60.1", "api.bench.test. 10 IN A 127.0.60.2")
	rotated := msg("api.bench.test. 10 IN A 127.0.60.2", "api.bench.test. 10 IN A 127.0.60.1")
	if d := sameRecords(a, rotated); d != "" {
		t.Errorf("rotated answer differs: %s", d)
	}
	if d := sameRecords(a, msg("api.bench.test. 10 IN A 127.0.60.1")); d == "" {
		t.Error("a missing record went unnoticed")
	}
	if d := sameRecords(a, msg("api.bench.test. 5 IN A 127.0.60.1", "api.bench.test. 10 IN A 127.0.60.2")); d == "" {
		t.Error("a different TTL went unnoticed")
	}
	nx := msg()
	nx.Rcode = dns.RcodeNameError
	if d := sameRecords(msg(), nx); d == "" {
		t.Error("a different rcode went unnoticed")
	}
}
