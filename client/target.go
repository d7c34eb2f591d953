package client

import (
	"net/netip"
	"strconv"
)

// Target is one SRV record of a service, with the addresses its answer
// carried for the target name.
type Target struct {
	Host     string // the SRV target, a fully qualified name
	Port     uint16
	Priority uint16
	Weight   uint16
	// Addrs are the target's addresses from the answer's additional
	// section; empty when it had none, and the Dialer looks Host up.
	Addrs []netip.Addr
}

// String returns "host:port (priority P, weight W)".
func (t Target) String() string {
	return t.Host + ":" + strconv.Itoa(int(t.Port)) + " (priority " + strconv.Itoa(int(t.Priority)) +
		", weight " + strconv.Itoa(int(t.Weight)) + ")"
}
