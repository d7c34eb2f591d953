// Package differential serves one zone from hadns (the real binary) and,
// rendered as an RFC 1035 zone file, from NSD and Knot, sends the same
// thousand queries to all three and fails on every difference in rcode,
// flags, answer, authority, or additional addresses that is not an
// intended one. The intended differences are listed, each with its RFC
// reason, where the comparison makes them (compare_test.go).
//
// It needs nsd and knotd (Debian: apt-get install nsd knot) and fails
// without them. Set HADNS_BIN to a prebuilt binary to skip the build.
package differential

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// full sends every name × type in every variant and case (about 10,500
// queries, some 25 s) instead of one variant each.
var full = flag.Bool("full", false, "send every name and type in every variant and case")

// hadnsBin is the binary under test: HADNS_BIN, or one built by TestMain.
var hadnsBin string

func TestMain(m *testing.M) {
	if bin := os.Getenv("HADNS_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "differential: HADNS_BIN=%s: %v\n", bin, err)
			os.Exit(1)
		}
		hadnsBin = abs
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "hadns-differential-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "differential:", err)
		os.Exit(1)
	}
	hadnsBin = filepath.Join(dir, "hadns")
	if out, err := exec.Command("go", "build", "-o", hadnsBin, "github.com/hadns/hadns/cmd/hadns").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "differential: go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestDifferential compares hadns with NSD and Knot query by query.
func TestDifferential(t *testing.T) {
	nsdBin, err := lookPath("nsd")
	if err != nil {
		t.Fatal(err)
	}
	knotBin, err := lookPath("knotd")
	if err != nil {
		t.Fatal(err)
	}
	svcs := testServices()
	startBackends(t, svcs)
	zone := referenceZone(svcs)
	nsd := startNSD(t, nsdBin, zone)
	knot := startKnot(t, knotBin, zone)
	h := startHadns(t, hadnsBin, svcs)

	// What a reference answers for each service name, for waiting until
	// hadns's checker has settled.
	rendered := map[string][]string{}
	for _, name := range sortedNames(serviceOwners(svcs)) {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
			r, err := exchange(nsd.addr, query{name: name, qtype: qt, tcp: true, edns: 1232})
			if err != nil {
				t.Fatalf("nsd %s: %v", name, err)
			}
			rendered[name+" "+dns.TypeToString[qt]] = rrStrings(r.Answer)
		}
	}
	waitSettled(t, h, rendered, svcs)

	addrCache := map[string]map[string]bool{}
	refAddrs := func(name string) map[string]bool {
		name = strings.ToLower(name)
		if m, ok := addrCache[name]; ok {
			return m
		}
		m := map[string]bool{}
		for _, ref := range []*nameserver{nsd, knot} {
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
				r, err := exchange(ref.addr, query{name: name, qtype: qt, tcp: true, edns: 1232})
				if err != nil {
					t.Fatalf("%s %s: %v", ref.name, name, err)
				}
				for _, sec := range [][]dns.RR{r.Answer, r.Ns, r.Extra} {
					for _, rr := range sec {
						if !strings.EqualFold(rr.Header().Name, name) {
							continue
						}
						switch rr := rr.(type) {
						case *dns.A:
							m[rr.A.String()] = true
						case *dns.AAAA:
							m[rr.AAAA.String()] = true
						}
					}
				}
			}
		}
		addrCache[name] = m
		return m
	}

	owners := serviceOwners(svcs)
	queries := buildQueries(*full)
	var (
		sent, compared int
		withData       int // compared replies of hadns with answer records
		byKind         = map[string]int{}
		refDiffs       = map[string]int{}
		diffs          []difference
	)
	for _, q := range queries {
		hr, nr, kr := ask(h, q), ask(nsd, q), ask(knot, q)
		sent += 3
		compared++
		if hr.err == nil && len(hr.msg.Answer) > 0 {
			withData++
		}
		svc := owners[strings.ToLower(q.name)]
		d, rd := compare(q, hr, []reply{nr, kr}, svc, refAddrs)
		for _, x := range d {
			byKind[x.kind]++
		}
		for _, x := range rd {
			kind := strings.SplitN(x, ":", 2)[0]
			if refDiffs[kind] == 0 {
				t.Logf("NSD and Knot differ, first case of %s (hadns agrees with one): %s: %s", kind, q, x)
			}
			refDiffs[kind]++
		}
		diffs = append(diffs, d...)
	}

	// The summary.
	var kinds []string
	for k, n := range byKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	var rkinds []string
	for k, n := range refDiffs {
		rkinds = append(rkinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(rkinds)
	t.Logf("differential: %d queries (%d messages to hadns, NSD and Knot), %d compared (%d with answer records); differences: %d [%s]; NSD and Knot differ from each other on: [%s]",
		len(queries), sent, compared, withData, len(diffs), strings.Join(kinds, ", "), strings.Join(rkinds, ", "))
	// A comparison of empty replies would pass whatever the servers
	// serve: a good share of the queries name data (most types asked of
	// a name are NODATA).
	if withData < compared/10 {
		t.Errorf("only %d of %d replies of hadns had answer records: the servers do not serve the zone as meant", withData, compared)
	}
	for _, d := range diffs {
		t.Errorf("%s: %s differs from NSD and Knot:\n%s", d.q, d.kind, d.detail)
	}
}

func ask(ns *nameserver, q query) reply {
	m, err := exchange(ns.addr, q)
	return reply{msg: m, err: err}
}
