package hadns

import (
	"errors"
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// clientSubnet is the EDNS Client Subnet option of a query (RFC 7871); opt
// is nil when the query has none. It is passed by value: no allocation.
type clientSubnet struct {
	opt    *dns.EDNS0_SUBNET
	prefix netip.Prefix // the masked source network
}

var errBadECS = errors.New("malformed EDNS Client Subnet option")

// queryECS finds and validates the ECS option. RFC 7871 section 7.1.1 and
// 7.1.2: a source prefix too long for the family, a non-zero scope in a
// query, or address bits beyond the source prefix are a FORMERR.
func queryECS(opt *dns.OPT) (clientSubnet, error) {
	if opt == nil {
		return clientSubnet{}, nil
	}
	for _, o := range opt.Option {
		e, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		var a netip.Addr
		var maxBits uint8
		switch e.Family {
		case 1:
			maxBits = 32
			a, ok = netip.AddrFromSlice(e.Address.To4())
		case 2:
			maxBits = 128
			a, ok = netip.AddrFromSlice(e.Address.To16())
		default:
			return clientSubnet{}, errBadECS
		}
		if !ok || e.SourceNetmask > maxBits || e.SourceScope != 0 {
			return clientSubnet{}, errBadECS
		}
		if e.Family == 1 {
			a = a.Unmap()
		}
		p := netip.PrefixFrom(a, int(e.SourceNetmask))
		if p.Masked().Addr() != a {
			return clientSubnet{}, errBadECS
		}
		return clientSubnet{opt: e, prefix: p}, nil
	}
	return clientSubnet{}, nil
}

// replyECS is the ECS option for the reply: the query's family, source
// prefix and address with the scope we answered for.
func (c *clientSubnet) replyECS(scope uint8) *dns.EDNS0_SUBNET {
	return &dns.EDNS0_SUBNET{
		Code:          dns.EDNS0SUBNET,
		Family:        c.opt.Family,
		SourceNetmask: c.opt.SourceNetmask,
		SourceScope:   scope,
		Address:       c.opt.Address,
	}
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
