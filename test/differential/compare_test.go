package differential

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/hadns/hadns/test/internal/dnsraw"
	"github.com/miekg/dns"
)

// query is one message the test sends to all three servers.
type query struct {
	name        string // as sent: its case is kept
	qtype       uint16
	tcp         bool
	edns        uint16 // EDNS buffer size; 0: no OPT record
	do          bool
	qclass      uint16 // dns.ClassINET when 0
	rd          bool   // recursion desired
	ednsVersion uint8
	twoQ        bool     // a second question (QDCOUNT 2)
	unknownOpt  bool     // an EDNS option of an unassigned code
	opcode      int      // dns.OpcodeQuery unless testing another
	noQ         bool     // send no question section
	answer      []dns.RR // RRs for the answer section of an odd message (IQUERY)
	ecs         *dns.EDNS0_SUBNET
	rawECS      []byte // an ECS option's data as is, malformed on purpose
	// expect checks what only hadns does (the references ignore ECS):
	// it returns what is wrong with hadns's reply, or "".
	expect    func(*dns.Msg) string
	hadnsOnly bool // only expect applies: the references do not implement what q tests
}

func (q query) String() string {
	var b strings.Builder
	if q.opcode != dns.OpcodeQuery {
		fmt.Fprintf(&b, "opcode %d ", q.opcode)
	}
	if !q.noQ {
		fmt.Fprintf(&b, "%s %s", q.name, typeName(q.qtype))
		if q.qclass != 0 && q.qclass != dns.ClassINET {
			fmt.Fprintf(&b, " class %d", q.qclass)
		}
		if q.twoQ {
			b.WriteString(" +second question")
		}
	} else {
		b.WriteString("(no question)")
	}
	if q.tcp {
		b.WriteString(" tcp")
	} else {
		b.WriteString(" udp")
	}
	if q.edns == 0 {
		b.WriteString(" no-edns")
	} else {
		fmt.Fprintf(&b, " edns=%d", q.edns)
	}
	if q.do {
		b.WriteString(" +do")
	}
	if q.rd {
		b.WriteString(" +rd")
	}
	if q.ednsVersion != 0 {
		fmt.Fprintf(&b, " edns-version=%d", q.ednsVersion)
	}
	if q.ecs != nil {
		fmt.Fprintf(&b, " ecs=%s/%d", q.ecs.Address, q.ecs.SourceNetmask)
	}
	if q.rawECS != nil {
		fmt.Fprintf(&b, " ecs-data=%x", q.rawECS)
	}
	return b.String()
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

// msg builds the query's message: RD clear, as a resolver asks an
// authoritative server.
func (q query) msg() *dns.Msg {
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.Opcode = q.opcode
	m.RecursionDesired = q.rd
	class := q.qclass
	if class == 0 {
		class = dns.ClassINET
	}
	if !q.noQ {
		m.Question = []dns.Question{{Name: q.name, Qtype: q.qtype, Qclass: class}}
	}
	if q.twoQ {
		m.Question = append(m.Question, dns.Question{Name: origin, Qtype: dns.TypeSOA, Qclass: class})
	}
	m.Answer = q.answer
	if q.edns > 0 {
		m.SetEdns0(q.edns, q.do)
		o := m.IsEdns0()
		o.SetVersion(q.ednsVersion)
		if q.ecs != nil {
			o.Option = append(o.Option, q.ecs)
		}
		if q.unknownOpt {
			o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3}})
		}
		if q.rawECS != nil {
			o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: q.rawECS})
		}
	}
	return m
}

// exchange sends q to addr and returns the reply. A lost UDP datagram is
// sent again, at most twice more.
func exchange(addr string, q query) (*dns.Msg, error) {
	wire, err := q.msg().Pack()
	if err != nil {
		return nil, fmt.Errorf("pack %v: %w", q, err)
	}
	network := "udp"
	if q.tcp {
		network = "tcp"
	}
	var reply []byte
	for try := 0; try < 3; try++ {
		reply, err = exchangeRaw(network, addr, wire)
		var ne net.Error
		if err == nil || q.tcp || !errors.As(err, &ne) || !ne.Timeout() {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	r := new(dns.Msg)
	if err := r.Unpack(reply); err != nil {
		return nil, fmt.Errorf("unpack reply: %w", err)
	}
	return r, nil
}

func exchangeRaw(network, addr string, wire []byte) ([]byte, error) {
	return dnsraw.Exchange(network, addr, wire, queryTimeout)
}

// rrStrings returns the records of a section as text, sorted: an RRset has
// no order (RFC 2181 §5), and hadns rotates its service answers.
func rrStrings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, rr.String())
	}
	sort.Strings(out)
	return out
}

// caseRRs returns the records of a section as text, sorted, with every
// name lowercased except an owner that is the query name: that one must
// echo the query's spelling (RFC 1034 §3.1 asks servers to preserve case;
// resolvers that randomise it check the echo). Other names are compared
// without case (RFC 4343): NSD and Knot compress them against the
// question, so they carry its case, where hadns writes the zone's.
func caseRRs(rrs []dns.RR, qname string) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		s := rr.String()
		owner := rr.Header().Name
		if strings.EqualFold(owner, qname) && strings.HasPrefix(s, owner) {
			s = owner + strings.ToLower(s[len(owner):])
		} else {
			s = strings.ToLower(s)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// difference is one way hadns's reply differs from both references'.
type difference struct {
	kind   string // rcode, opcode, aa, tc, answer, authority, additional, opt
	q      query
	detail string
}

// reply is what the comparison reads of one server's reply.
type reply struct {
	msg *dns.Msg
	err error
}

// compare returns the ways hadns's reply h differs from the references'
// replies refs (NSD's and Knot's), and the aspects on which the references
// differ from each other. An aspect passes when hadns agrees with at least
// one reference: where NSD and Knot differ, the RFCs allow either. svc is
// the service q's name belongs to, if any; addrs(name) returns the
// addresses a reference answers for name, for the additional-section check.
//
// The intended differences, each an exception below:
//   - OPT: the UDP payload size is each server's own (hadns 1232); only
//     presence, version and DO are compared (RFC 6891 §6.2.3, RFC 3225 §3).
//   - TC set: the sections of a truncated UDP reply are whatever fit, so
//     only rcode and flags are compared (RFC 2181 §9).
//   - ANY: hadns gives one RRset (RFC 8482 §4.1); it must be part of a
//     reference's answer, and empty only where theirs is.
//   - A/AAAA of a service: the client's site's healthy backends, at most
//     max_answers, rotated: a subset of the rendered set of that length.
//   - Names other than the query name compare without case (RFC 4343):
//     NSD and Knot compress them against the question and so give them the
//     question's case. The query name must be echoed as sent.
//   - Additional section: optional data (RFC 2181 §9, RFC 1034 §4.3.2):
//     hadns may add fewer records, never an address the references do not
//     give that name.
//   - ECS: NSD and Knot do not implement it; queries with q.expect check
//     hadns's own rules (RFC 7871), and q.hadnsOnly skips the references.
func compare(q query, h reply, refs []reply, svc *service, addrs func(string) map[string]bool) (diffs []difference, refDiffs []string) {
	add := func(kind, format string, args ...any) {
		diffs = append(diffs, difference{kind: kind, q: q, detail: fmt.Sprintf(format, args...)})
	}
	var ok []*dns.Msg
	for _, r := range refs {
		if r.err == nil {
			ok = append(ok, r.msg)
		}
	}
	if h.err != nil {
		// A reference that does not answer either (Knot drops some
		// malformed messages) makes no answer right.
		if len(ok) < len(refs) {
			return nil, nil
		}
		add("no reply", "hadns: %v; the references answered %s", h.err, dns.RcodeToString[ok[0].Rcode])
		return diffs, nil
	}
	if len(ok) == 0 {
		add("no reply", "hadns answered %s; no reference answered", dns.RcodeToString[h.msg.Rcode])
		return diffs, nil
	}
	hm := h.msg
	if q.expect != nil {
		if msg := q.expect(hm); msg != "" {
			add("ecs", "%s", msg)
		}
	}
	if q.hadnsOnly {
		return diffs, nil
	}
	type aspect struct {
		kind string
		get  func(*dns.Msg) string
	}
	aspects := []aspect{
		{"rcode", func(m *dns.Msg) string { return dns.RcodeToString[m.Rcode] }},
		{"opcode", func(m *dns.Msg) string { return dns.OpcodeToString[m.Opcode] }},
		{"aa", func(m *dns.Msg) string { return fmt.Sprint(m.Authoritative) }},
		// RD is copied into the reply, RA never set (RFC 1035 §4.1.1).
		{"rd/ra", func(m *dns.Msg) string { return fmt.Sprintf("rd=%v ra=%v", m.RecursionDesired, m.RecursionAvailable) }},
		{"tc", func(m *dns.Msg) string { return fmt.Sprint(m.Truncated) }},
		// EDNS: an OPT in the reply when the query had one (RFC 6891 §6.1.1)
		// and DO echoed (RFC 3225 §3). The UDP size is not compared: each
		// server states its own (hadns 1232, see the README).
		{"opt", func(m *dns.Msg) string {
			o := m.IsEdns0()
			if o == nil {
				return "no OPT"
			}
			return fmt.Sprintf("OPT version %d do=%v", o.Version(), o.Do())
		}},
	}
	for _, a := range aspects {
		if diff, refd := differs(a.get, hm, ok); diff != "" {
			add(a.kind, "%s", diff)
		} else if refd != "" {
			refDiffs = append(refDiffs, a.kind+": "+refd)
		}
	}
	// RFC 2181 §9: a truncated reply's sections are whatever fit; the
	// client retries over TCP. Only its flags and rcode are compared.
	if hm.Truncated || slices.ContainsFunc(ok, func(m *dns.Msg) bool { return m.Truncated }) {
		return diffs, refDiffs
	}

	// Answer section.
	switch {
	case q.qtype == dns.TypeANY:
		// RFC 8482 §4.1: hadns answers ANY with one RRset of the name
		// where NSD and Knot may give all of them: every record hadns sends
		// must be one a reference has, and none is missing when the name
		// has data.
		if diff := anySubset(hm, ok, q.name); diff != "" {
			add("answer", "%s", diff)
		}
	case svc != nil && (q.qtype == dns.TypeA || q.qtype == dns.TypeAAAA):
		// A service's A/AAAA set is its own site's healthy backends, at most
		// max_answers of them, rotated per query: membership, count and TTL
		// (all in the rendered records) are compared, not which ones.
		if diff := membership(hm, ok, svc.maxAnswers, q.name); diff != "" {
			add("answer", "%s", diff)
		}
	default:
		if diff, refd := differs(func(m *dns.Msg) string { return strings.Join(caseRRs(m.Answer, q.name), "\n") }, hm, ok); diff != "" {
			add("answer", "%s", diff)
		} else if refd != "" {
			refDiffs = append(refDiffs, "answer: "+refd)
		}
	}

	// Authority: the same types present (SOA on negative answers, NS on
	// referrals); the records themselves when every server sends them.
	authTypes := func(m *dns.Msg) string {
		set := map[string]bool{}
		for _, rr := range m.Ns {
			set[strings.ToLower(rr.Header().Name)+" "+typeName(rr.Header().Rrtype)] = true
		}
		return strings.Join(sortedNames(set), ", ")
	}
	if diff, refd := differs(authTypes, hm, ok); diff != "" {
		add("authority", "%s", diff)
	} else if refd != "" {
		refDiffs = append(refDiffs, "authority: "+refd)
	} else if diff, _ := differs(func(m *dns.Msg) string { return strings.Join(caseRRs(m.Ns, q.name), "\n") }, hm, ok); diff != "" {
		add("authority", "%s", diff)
	}

	// Additional: every address hadns adds must be one a reference answers
	// for that name. hadns may add fewer records than the references
	// (RFC 2181 §9: additional data is optional), never others.
	for _, rr := range hm.Extra {
		var a string
		switch rr := rr.(type) {
		case *dns.A:
			a = rr.A.String()
		case *dns.AAAA:
			a = rr.AAAA.String()
		default:
			continue
		}
		if !addrs(rr.Header().Name)[a] {
			add("additional", "%s: not an address the references answer for %s", rr, rr.Header().Name)
		}
	}
	return diffs, refDiffs
}

// differs compares one aspect: it returns a description when hadns's value
// is neither reference's, and one of the references' disagreement.
func differs(get func(*dns.Msg) string, h *dns.Msg, refs []*dns.Msg) (diff, refDiff string) {
	hv := get(h)
	var vals []string
	match := false
	for _, r := range refs {
		v := get(r)
		vals = append(vals, v)
		match = match || v == hv
	}
	if len(vals) == 2 && vals[0] != vals[1] {
		refDiff = fmt.Sprintf("nsd %q, knot %q", vals[0], vals[1])
	}
	if match {
		return "", refDiff
	}
	if len(vals) == 2 && vals[0] == vals[1] {
		return fmt.Sprintf("hadns:\n%s\nnsd and knot:\n%s", indent(hv), indent(vals[0])), refDiff
	}
	return fmt.Sprintf("hadns:\n%s\nreferences:\n%s", indent(hv), indent(strings.Join(vals, "\n--\n"))), refDiff
}

func indent(s string) string {
	if s == "" {
		return "    (nothing)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// membership checks a service's A/AAAA answer: a subset of a reference's
// rendered set, min(len, max) records long.
func membership(h *dns.Msg, refs []*dns.Msg, max int, qname string) string {
	got := caseRRs(h.Answer, qname)
	for _, r := range refs {
		want := caseRRs(r.Answer, qname)
		if settled(got, want, max) {
			return ""
		}
	}
	return fmt.Sprintf("hadns:\n%s\nnot a subset of at most %d of:\n%s", indent(strings.Join(got, "\n")), max, indent(strings.Join(rrStrings(refs[0].Answer), "\n")))
}

// anySubset checks an ANY answer (RFC 8482): hadns's records are all in a
// reference's answer, and hadns's is empty only when the references' are.
func anySubset(h *dns.Msg, refs []*dns.Msg, qname string) string {
	got := caseRRs(h.Answer, qname)
	for _, r := range refs {
		want := caseRRs(r.Answer, qname)
		if (len(got) == 0) != (len(want) == 0) {
			continue
		}
		all := true
		for _, g := range got {
			all = all && slices.Contains(want, g)
		}
		if all {
			return ""
		}
	}
	return fmt.Sprintf("hadns:\n%s\nnot part of a reference's:\n%s", indent(strings.Join(got, "\n")), indent(strings.Join(rrStrings(refs[0].Answer), "\n")))
}
