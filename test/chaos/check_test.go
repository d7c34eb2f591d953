package main

import (
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// Two sites of two backends: 0 and 1 in site 0, 2 and 3 in site 1. Client 0
// is in site 0, client 1 in no site.
var (
	testSiteOf     = []int{0, 0, 1, 1}
	testClientSite = []int{0, -1}
	testRules      = rules{deadBound: time.Second, upBound: 700 * time.Millisecond}
)

func at(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

func TestCheckRules(t *testing.T) {
	// Backend 0 is dead from 1 s to 5 s; backend 1 from 1 s to 3 s.
	outages := []outage{{backend: 0, start: at(1000), end: at(5000)}, {backend: 1, start: at(1000), end: at(3000)}}
	tests := []struct {
		name string
		a    answer
		want string // violation kind, "" for none
	}{
		{"healthy local answer", answer{client: 0, qtype: dns.TypeA, sent: at(500), recv: at(501), backends: 0b0011}, ""},
		{"timeout", answer{client: 0, sent: at(500), recv: at(2500), rcode: rcodeTimeout}, "timeout"},
		{"servfail", answer{client: 0, sent: at(500), recv: at(501), rcode: dns.RcodeServerFailure}, "rcode"},
		{"empty", answer{client: 0, sent: at(500), recv: at(501)}, "empty"},
		{"unknown record", answer{client: 1, sent: at(500), recv: at(501), backends: 0b0100, unknown: 1}, "unknown record"},
		{"dead within the bound", answer{client: 1, sent: at(1900), recv: at(1901), backends: 0b0001}, ""},
		{"dead beyond the bound", answer{client: 1, sent: at(2100), recv: at(2101), backends: 0b0001}, "dead backend"},
		{"restarted before the reply", answer{client: 1, sent: at(4999), recv: at(5001), backends: 0b0001}, ""},
		{"fallback while the site is down", answer{client: 0, sent: at(2000), recv: at(2001), backends: 0b1100}, ""},
		{"fallback while the site is rising", answer{client: 0, sent: at(3600), recv: at(3601), backends: 0b1100}, ""},
		{"fallback once the site is up", answer{client: 0, sent: at(3800), recv: at(3801), backends: 0b1100}, "own site missing"},
		{"no site: anything goes", answer{client: 1, sent: at(3800), recv: at(3801), backends: 0b1000}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := check(testSiteOf, testClientSite, outages, []answer{tc.a}, testRules)
			got := ""
			if len(res.violations) > 0 {
				got = res.violations[0].kind
			}
			if got != tc.want || len(res.violations) > 1 {
				t.Fatalf("violations %v, want kind %q", res.violations, tc.want)
			}
		})
	}
}

func TestCheckDetection(t *testing.T) {
	outages := []outage{{backend: 0, start: at(1000), end: at(5000)}, {backend: 2, start: at(1000), end: at(4000)},
		{backend: 3, start: at(100), end: at(200)}, {backend: 3, start: at(300), end: at(400)}}
	answers := []answer{
		// Backend 3 died again before it was back: its first outage has no
		// return; its second one returns at once.
		{client: 1, qtype: dns.TypeSRV, sent: at(250), recv: at(251), backends: 0b0111},
		{client: 1, qtype: dns.TypeSRV, sent: at(500), recv: at(501), backends: 0b1011},
		{client: 0, qtype: dns.TypeA, sent: at(1100), recv: at(1101), backends: 0b0011},
		// A for a site-0 client covers backend 0, not backend 2.
		{client: 0, qtype: dns.TypeA, sent: at(1400), recv: at(1402), backends: 0b0010},
		// SRV covers every backend: backend 2 is still there.
		{client: 1, qtype: dns.TypeSRV, sent: at(1500), recv: at(1501), backends: 0b1110},
		// After its restart at 4 s, backend 2 is back in an SRV answer.
		{client: 1, qtype: dns.TypeSRV, sent: at(4100), recv: at(4101), backends: 0b1010},
		{client: 1, qtype: dns.TypeSRV, sent: at(4300), recv: at(4302), backends: 0b1110},
	}
	res := check(testSiteOf, testClientSite, outages, answers, testRules)
	if len(res.detections) != 1 || res.detections[0] != at(402) {
		t.Errorf("detections %v, want [402ms] (backend 0 only)", res.detections)
	}
	if !slices.Equal(res.returns, []time.Duration{at(302), at(101)}) {
		t.Errorf("returns %v, want [302ms 101ms] (backend 2, then backend 3's second outage)", res.returns)
	}
	if len(res.undetected) != 1 || res.undetected[0].backend != 2 {
		t.Errorf("undetected %v, want backend 2's outage", res.undetected)
	}
}

func TestQuantile(t *testing.T) {
	ds := []time.Duration{at(5), at(1), at(3), at(2), at(4)}
	if q := loadtest.Quantile(ds, 0.5); q != at(3) {
		t.Errorf("p50 %v", q)
	}
	if q := loadtest.Quantile(ds, 0.99); q != at(5) {
		t.Errorf("p99 %v", q)
	}
	if q := loadtest.Quantile(nil, 0.5); q != 0 {
		t.Errorf("empty %v", q)
	}
}
