package wire

import (
	"sync/atomic"

	"github.com/miekg/dns"
)

// Twin is the variant of a packed reply for queries with the DO bit, in a
// signed zone. The reply it stands beside never changes; its signatures are
// replaced before they expire, so the variant is swapped whole.
type Twin struct {
	cur atomic.Pointer[Signed]
}

// Load returns the current signed variant, nil before the first Store.
func (t *Twin) Load() *Signed { return t.cur.Load() }

// Store makes s the current signed variant.
func (t *Twin) Store(s *Signed) { t.cur.Store(s) }

// Signed is a reply with its RRSIGs: packed, and as sections for the
// general path (a UDP reply whose answer does not fit, a writer that must
// see a message).
type Signed struct {
	Wire              *Answer // nil if it did not pack
	Answer, Ns, Extra []dns.RR
}
