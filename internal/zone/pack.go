package zone

import (
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/wire"
)

// packWire packs the reply for qname (lowercase, as the zone spells it) and
// qtype with res, or returns nil for what the fast path does not serve. The
// reply shares the recorders' messages of share, when given.
func packWire(qname string, qtype uint16, res Reply, share *wire.Answer) *wire.Answer {
	if res.Result != Success && res.Result != NoData {
		return nil
	}
	var ede []byte
	if res.Degraded != nil {
		ede = EDEOption(res.Degraded)
	}
	return wire.Pack(qname, qtype, res.Answer, res.Ns, res.Extra, ede, share)
}

// EDEOption is the Extended DNS Error option (RFC 8914) for d, packed.
func EDEOption(d *Degradation) []byte { return wire.EDEOption(d.Code, d.Text) }

// packAnswers packs every rotation of a site's answers.
func packAnswers(s *Service, sa *siteAnswers) {
	packRR(s, s.name, dns.TypeA, &sa.a)
	packRR(s, s.name, dns.TypeAAAA, &sa.aaaa)
	for i := range sa.srv {
		packRR(s, s.srv[i].name, dns.TypeSRV, &sa.srv[i])
	}
}

func packRR(s *Service, owner string, qtype uint16, ra *ServiceAnswer) {
	res := Reply{Result: ra.result, Extra: ra.extra, Degraded: ra.degraded}
	switch ra.result {
	case Success:
		ra.wire = make([]*wire.Answer, len(ra.rotations))
		var share *wire.Answer
		for i, rot := range ra.rotations {
			res.Answer = rot
			if ra.wire[i] = packWire(owner, qtype, res, share); ra.wire[i] != nil {
				share = ra.wire[i]
			}
		}
	case NoData:
		// The zone's NODATA, which takes its question from the query; a
		// degraded one carries its EDE beside the shared bytes.
		if wa := s.noData; wa != nil {
			if ra.degraded != nil {
				wa = wa.WithEDE(EDEOption(ra.degraded))
			}
			ra.wire = []*wire.Answer{wa}
		}
	}
}

// packStatic packs the static answers of every name: each RRset as asked,
// and the NODATA reply, which like the NXDOMAIN takes its question from the
// query, so one serves every name of the zone. It runs once the zone is
// checked, and drops the record lines kept for error messages.
func (z *Zone) packStatic() {
	noData := wire.Negative(z.negSOA, dns.RcodeSuccess)
	for name, n := range z.nodes {
		for i := range n.rrsets {
			ts := &n.rrsets[i]
			if n.more != nil && len(n.more.extraSvc[ts.t]) > 0 {
				continue // its additional data follows health: packed with the service's answers
			}
			ts.wa = packWire(name, ts.t, Reply{Result: Success, Answer: ts.set, Extra: n.extraFor(ts.t)}, nil)
		}
	}
	z.lines = nil
	z.noData = noData
	// The apex's SOA is owned by the query name: packed for it, the owner
	// points at the question and takes its spelling.
	z.apexNoData = packWire(z.origin, 0, Reply{Result: NoData, Ns: z.negSOA}, nil)
	z.nx = packNX(z.negSOA)
	for _, s := range z.services {
		s.negSOA, s.noData = z.negSOA, noData
	}
}

// packNX packs what an NXDOMAIN in the zone has in common: the header and
// the SOA.
func packNX(negSOA []dns.RR) *wire.Answer { return wire.Negative(negSOA, dns.RcodeNameError) }
