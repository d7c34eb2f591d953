package hadns

import (
	"sync/atomic"

	"github.com/miekg/dns"
)

// signedTwin is the signed variant of a packed reply, for queries with the
// DO bit. The reply it stands beside never changes; its signatures are
// replaced before they expire (resign), so the variant is swapped whole.
type signedTwin struct {
	cur atomic.Pointer[signedReply]
}

// signedReply is a reply with its RRSIGs: packed, and as sections for the
// general path (a UDP reply whose answer does not fit, a writer that must
// see a message).
type signedReply struct {
	wa                *wireAnswer // nil if it did not pack
	answer, ns, extra []dns.RR
}
