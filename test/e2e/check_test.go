package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// query builds a query for name and qtype with RD clear. With edns > 0 it
// carries an OPT record with that buffer size.
func query(name string, qtype uint16, edns uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	return m
}

// want is the exact reply expected to a query. RRs are in zone-file syntax
// and compared as sets (order aside), TTLs included. The OPT record is
// checked apart: present exactly when the query had one.
type want struct {
	rcode  int
	aa     bool
	tc     bool
	answer []string
	ns     []string
	extra  []string // without the OPT record
}

// check asserts reply r to query q is exactly w, plus what every reply
// shares: QR set, ID, opcode and RD echoed, RA clear, the question echoed
// as sent (case included), and an OPT record iff the query had one.
func check(t testing.TB, q, r *dns.Msg, w want) {
	t.Helper()
	checkHeader(t, q, r)
	if r.Rcode != w.rcode {
		t.Errorf("%s: rcode %s, want %s", qstr(q), dns.RcodeToString[r.Rcode], dns.RcodeToString[w.rcode])
	}
	if r.Authoritative != w.aa {
		t.Errorf("%s: AA %v, want %v", qstr(q), r.Authoritative, w.aa)
	}
	if r.Truncated != w.tc {
		t.Errorf("%s: TC %v, want %v", qstr(q), r.Truncated, w.tc)
	}
	checkSection(t, q, "answer", r.Answer, w.answer)
	checkSection(t, q, "authority", r.Ns, w.ns)
	checkSection(t, q, "additional", withoutOPT(r.Extra), w.extra)
}

func checkHeader(t testing.TB, q, r *dns.Msg) {
	t.Helper()
	if !r.Response {
		t.Errorf("%s: QR clear in the reply", qstr(q))
	}
	if r.Id != q.Id {
		t.Errorf("%s: reply ID %d, want %d", qstr(q), r.Id, q.Id)
	}
	if r.Opcode != q.Opcode {
		t.Errorf("%s: reply opcode %d, want %d", qstr(q), r.Opcode, q.Opcode)
	}
	if r.RecursionAvailable {
		t.Errorf("%s: RA set; an authoritative-only server must clear it", qstr(q))
	}
	if r.RecursionDesired != q.RecursionDesired {
		t.Errorf("%s: RD %v, want it echoed (%v)", qstr(q), r.RecursionDesired, q.RecursionDesired)
	}
	if len(r.Question) != 1 || len(q.Question) != 1 || r.Question[0] != q.Question[0] {
		t.Errorf("%s: question %v, want %v echoed as sent", qstr(q), r.Question, q.Question)
	}
	qopt, ropt := q.IsEdns0(), r.IsEdns0()
	switch {
	case qopt != nil && ropt == nil:
		t.Errorf("%s: query had an OPT record, the reply has none (RFC 6891 7)", qstr(q))
	case qopt == nil && ropt != nil:
		t.Errorf("%s: query had no OPT record, the reply has one (RFC 6891 7)", qstr(q))
	case ropt != nil && ropt.Version() != 0:
		t.Errorf("%s: reply OPT version %d, want 0", qstr(q), ropt.Version())
	}
}

// checkSection compares a section with the wanted RRs as sorted strings.
func checkSection(t testing.TB, q *dns.Msg, name string, got []dns.RR, wantRRs []string) {
	t.Helper()
	g, w := rrStrings(got), sortedRRs(wantRRs)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("%s: %s section:\n%s\nwant:\n%s", qstr(q), name, indent(g), indent(w))
	}
}

func rrStrings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	sort.Strings(out)
	return out
}

func indent(lines []string) string {
	if len(lines) == 0 {
		return "\t(empty)"
	}
	return "\t" + strings.Join(lines, "\n\t")
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

func qstr(q *dns.Msg) string {
	if len(q.Question) == 0 {
		return "(no question)"
	}
	s := q.Question[0].Name + " " + dns.Type(q.Question[0].Qtype).String()
	if o := q.IsEdns0(); o != nil {
		s += fmt.Sprintf(" +edns(%d)", o.UDPSize())
	}
	return s
}

// sortedRRs returns RRs in zone-file syntax as miekg/dns prints them, sorted.
func sortedRRs(rrs []string) []string {
	out := make([]string, 0, len(rrs))
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(fmt.Sprintf("bad expected RR %q: %v", s, err))
		}
		out = append(out, rr.String())
	}
	sort.Strings(out)
	return out
}
