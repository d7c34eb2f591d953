package zone

import "github.com/miekg/dns"

// nodeMore is what only some names have: the additional data of NS, MX and
// SRV sets, the services it depends on, and a service's SRV owner. Most
// names of a zone have none of it and leave node.more nil.
type nodeMore struct {
	extra  map[uint16][]dns.RR // additional-section addresses for NS, MX and SRV sets
	srvOf  *Service            // a service's SRV owner: its SRV follows health
	srvIdx int                 // which of srvOf's SRV owners

	// extraSvc is, by type, the services that NS, MX and SRV targets name:
	// their addresses follow health (serviceExtra). With one service, its
	// answers carry this RRset's additional data, at depIdx in its deps.
	extraSvc map[uint16][]*Service
	depIdx   map[uint16]int
}

// moreFields returns n's rarer fields, making them if it has none. Only
// while the zone is built.
func (n *node) moreFields() *nodeMore {
	if n.more == nil {
		n.more = &nodeMore{}
	}
	return n.more
}

// extraFor is the static additional data of n's RRset of type t.
func (n *node) extraFor(t uint16) []dns.RR {
	if n.more == nil {
		return nil
	}
	return n.more.extra[t]
}

// srvOwner returns the service whose SRV owner n is, or nil.
func (n *node) srvOwner() *Service {
	if n.more == nil {
		return nil
	}
	return n.more.srvOf
}

// nameType is an RRset: its owner and type.
type nameType struct {
	name string
	t    uint16
}

// line is the line of the first record of name's RRset of type t, 0 if
// unknown (or the zone is packed).
func (z *Zone) line(name string, t uint16) int { return z.lines[nameType{name, t}] }

func (z *Zone) setLine(name string, t uint16, line int) {
	if z.lines != nil {
		z.lines[nameType{name, t}] = line
	}
}
