// Package hadns is a CoreDNS plugin that serves zones authoritatively and
// answers A, AAAA and SRV queries for services with only the backends its
// own health checker sees as healthy, the client's site first.
package hadns

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/fall"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/clientsubnet"
	"github.com/hadns/hadns/internal/sites"
	"github.com/hadns/hadns/internal/wire"
	"github.com/hadns/hadns/internal/zone"
)

// maxUDPSize is the largest UDP reply we send, whatever the client offers:
// the DNS flag day 2020 value, which avoids IP fragmentation.
const maxUDPSize = 1232

// Hadns is the plugin handler.
type Hadns struct {
	Next plugin.Handler
	Fall fall.F

	snap atomic.Pointer[snapshot]
	// ready is set once every health target has a first result, or the
	// start-up timeout passed; until then service answers say Not Ready.
	ready atomic.Bool
	// pool is the checker pool of the engine serving h, for Ready.
	pool atomic.Pointer[checkerPool]
	// dnssec signs the zones that have keys; nil if none. Set before
	// serving, never changed.
	dnssec *dnssecConfig
}

// snapshot is everything a query reads, swapped whole on reload.
type snapshot struct {
	zones map[string]*zone.Zone // by origin
	sites *sites.Table
}

// zoneFor returns the zone that holds qname (lowercase), longest match first.
func (s *snapshot) zoneFor(qname string) *zone.Zone {
	for off, end := 0, false; !end; off, end = dns.NextLabel(qname, off) {
		if z, ok := s.zones[qname[off:]]; ok {
			return z
		}
	}
	if z, ok := s.zones["."]; ok {
		return z
	}
	return nil
}

// Name implements plugin.Handler.
func (h *Hadns) Name() string { return pluginName }

const pluginName = "hadns"

// ServeDNS implements plugin.Handler.
func (h *Hadns) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if len(r.Question) != 1 {
		return writeError(w, r, dns.RcodeFormatError, r.IsEdns0())
	}
	if r.Opcode != dns.OpcodeQuery {
		// Only NOTIFY, and opcodes another plugin of the server block let in
		// (dynupdate's UPDATE), get here: the server answers the rest NOTIMP
		// before any plugin runs. UPDATE goes on to that plugin; the rest is
		// ours to refuse, with the OPT record RFC 6891 asks for.
		if r.Opcode == dns.OpcodeUpdate && h.Next != nil {
			return plugin.NextOrFailure(h.Name(), h.Next, ctx, w, r)
		}
		return writeError(w, r, dns.RcodeNotImplemented, r.IsEdns0())
	}
	snap := h.snap.Load()
	q := r.Question[0]
	qname := strings.ToLower(q.Name) // no allocation when already lower case
	var z *zone.Zone
	if snap != nil {
		z = snap.zoneFor(qname)
	}
	if z == nil {
		if h.Next != nil && h.Fall.Through(qname) {
			return plugin.NextOrFailure(h.Name(), h.Next, ctx, w, r)
		}
		return writeError(w, r, dns.RcodeRefused, r.IsEdns0())
	}
	reqOpt := r.IsEdns0()
	ecs, err := clientsubnet.Parse(reqOpt)
	if err != nil {
		return writeError(w, r, dns.RcodeFormatError, reqOpt)
	}
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		// No zone transfers: every instance loads the same files itself.
		return writeError(w, r, dns.RcodeRefused, reqOpt)
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		// Meta types that never stand in a question. MAILA and MAILB are
		// QTYPEs of RFC 1035 3.2.3 and get NODATA (no record has them), as
		// from NSD and Knot.
		return writeError(w, r, dns.RcodeFormatError, reqOpt)
	}
	if q.Qtype == dns.TypeNXNAME && h.dnssec.signs(z) {
		// A meta type of compact denial, never asked (RFC 9824 3.5).
		return writeError(w, r, dns.RcodeFormatError, reqOpt)
	}

	client := remoteAddr(w.RemoteAddr())
	if ecs.Opt != nil && ecs.Prefix.Bits() > 0 {
		client = ecs.Prefix.Addr()
	}
	site, bits := snap.sites.Default(), -1
	if client.IsValid() {
		site, bits = snap.sites.Match(client)
	}
	// A client no network holds is placed by GeoIP when sites have a
	// location; placed or not, its answer's ECS scope is then geoScope.
	geo := site == snap.sites.Default() && snap.sites.HasGeo()
	if geo {
		site, _ = geoSite(ctx, snap.sites)
	}
	res := z.Lookup(qname, q.Qtype, site)
	if h.dnssec != nil && reqOpt != nil && reqOpt.Do() {
		res = h.signed(z, qname, q.Qtype, res)
	}
	if res.From != nil {
		countAnswer(res.From, res.Service, siteLabel(snap.sites.Orders()[site].Site))
	}

	var scope uint8
	if ecs.Opt != nil && res.Scoped && ecs.Prefix.Bits() > 0 {
		if bits >= 0 {
			scope = uint8(bits)
		} else {
			scope = uint8(ecs.Prefix.Bits())
		}
		if geo {
			scope = uint8(geoScope(bits, ecs.Prefix.Bits()))
		}
	}
	deg := res.Degraded
	if deg == nil && res.From != nil && !h.ready.Load() {
		deg = notReady
	}
	udp := isUDP(w)
	if res.Wire != nil {
		ede := res.Wire.EDE()
		if deg == notReady {
			ede = notReadyEDE
		}
		if writeWire(w, r, res.Wire, reqOpt, &ecs, scope, ede, udp) {
			return dns.RcodeSuccess, nil
		}
	}

	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = false
	m.Answer, m.Ns, m.Extra = res.Answer, res.Ns, res.Extra
	switch res.Result {
	case zone.NameError:
		m.Rcode = dns.RcodeNameError
	case zone.Delegation:
		// A referral is not authoritative, but a CNAME chain that leads into
		// one is our own data: AA follows the first owner (RFC 1035 4.1.1).
		m.Authoritative = len(res.Answer) > 0
	case zone.ServerFailure:
		m.Rcode = dns.RcodeServerFailure
		m.Answer, m.Ns, m.Extra = nil, nil, nil
	case zone.NameTooLong:
		m.Rcode = dns.RcodeYXDomain
	}
	if q.Name != qname && len(q.Name) == len(qname) {
		m.Answer = echoCase(m.Answer, qname, q.Name)
		m.Ns = echoCase(m.Ns, qname, q.Name) // a referral asked at the cut
	}
	if reqOpt != nil {
		opt := replyOpt(reqOpt)
		if ecs.Opt != nil {
			opt.Option = append(opt.Option, ecs.Reply(scope))
		}
		if deg != nil {
			opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: deg.Code, ExtraText: deg.Text})
		}
		m.Extra = append(m.Extra[:len(m.Extra):len(m.Extra)], opt)
	}
	if udp {
		truncate(m, udpSize(reqOpt), res.Result == zone.Delegation)
	}
	writeMsg(w, m)
	return dns.RcodeSuccess, nil
}

// truncate makes m fit in size bytes. Additional data goes first, whole
// RRsets from the end, and without TC: RFC 2181 9 sets TC only when the
// answer or required authority data did not fit. A referral's glue counts
// as required (RFC 9471), so a referral that loses any sets TC. If the
// answer and authority alone do not fit, miekg/dns cuts them and sets TC.
func truncate(m *dns.Msg, size int, referral bool) {
	m.Compress = true
	if m.Len() <= size {
		return
	}
	extra, opt := m.Extra, []dns.RR(nil)
	if n := len(extra); n > 0 && extra[n-1].Header().Rrtype == dns.TypeOPT {
		extra, opt = extra[:n-1:n-1], extra[n-1:]
	}
	for n := len(extra); n > 0; {
		n--
		for n > 0 && wire.SameRRset(extra[n], extra[n-1]) {
			n--
		}
		m.Extra = append(extra[:n:n], opt...)
		if m.Len() <= size {
			m.Truncated = m.Truncated || referral
			return
		}
	}
	m.Truncate(size)
	m.Truncated = true
}

// echoCase returns answer with the query name spelt as the query spelt it
// (asked; qname is it in lower case), like the packed replies and NSD and
// Knot: records owned by the query name (a CNAME, a wildcard's synthesized
// records) and a DNAME above it. Records are copied, never changed in place.
func echoCase(answer []dns.RR, qname, asked string) []dns.RR {
	var out []dns.RR
	for i, rr := range answer {
		name := rr.Header().Name
		if name == asked || !(name == qname || rr.Header().Rrtype == dns.TypeDNAME && dns.IsSubDomain(name, qname)) {
			continue
		}
		if out == nil {
			out = slices.Clone(answer)
		}
		c := dns.Copy(rr)
		c.Header().Name = asked[len(asked)-len(name):]
		out[i] = c
	}
	if out == nil {
		return answer
	}
	return out
}

var notReadyEDE = zone.EDEOption(notReady)

var notReady = &zone.Degradation{Code: dns.ExtendedErrorCodeNotReady, Text: "not ready: health checks have not finished their first round", Kind: "not_ready"}

// replyOpt is our OPT record: version 0, our buffer size, the DO bit echoed.
func replyOpt(req *dns.OPT) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(maxUDPSize)
	if req.Do() {
		o.SetDo()
	}
	return o
}

// udpSize is the most a UDP reply may hold: the client's buffer (at least
// 512), at most ours.
func udpSize(opt *dns.OPT) int {
	if opt == nil {
		return dns.MinMsgSize
	}
	return int(min(max(opt.UDPSize(), dns.MinMsgSize), maxUDPSize))
}

func isUDP(w dns.ResponseWriter) bool {
	a := w.RemoteAddr()
	return a != nil && a.Network() == "udp"
}

// writeError answers with rcode and no records (FORMERR, NOTIMP, REFUSED).
func writeError(w dns.ResponseWriter, r *dns.Msg, rcode int, reqOpt *dns.OPT) (int, error) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	m.RecursionAvailable = false
	if len(r.Question) > 1 {
		m.Question = nil
	}
	if reqOpt != nil {
		m.Extra = []dns.RR{replyOpt(reqOpt)}
	}
	writeMsg(w, m)
	// The reply is written: tell CoreDNS not to write one of its own.
	return dns.RcodeSuccess, nil
}

// remoteAddr returns the query's source address without allocating.
func remoteAddr(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return netip.Addr{}
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}
