package wire

// rare is what only some packed replies carry. Most replies of a zone are
// plain positive answers in an unsigned zone, which have none of it: they
// leave Answer.rare nil and pay one pointer, not these fields.
type rare struct {
	// ede is the EDE option of a degraded answer, or nil.
	ede []byte
	// soa is, for a negative answer (nx), the zone's SOA record written out
	// in full, so that its owner keeps the zone's spelling.
	soa []byte
	// cuts are the places the additional section may end early in a UDP
	// reply too big for the client: after each of its RRsets but the last,
	// from the end back. Additional data is not required, so dropping it
	// does not set TC (RFC 2181 9).
	cuts []extraCut
	// signed is this reply with its RRSIGs, in a signed zone.
	signed *Twin
}

// rareFields returns wa's rare fields, making them if it has none. Only
// for a reply not yet published.
func (wa *Answer) rareFields() *rare {
	if wa.rare == nil {
		wa.rare = &rare{}
	}
	return wa.rare
}

// EDE returns the EDE option of a degraded answer, packed, or nil.
func (wa *Answer) EDE() []byte {
	if wa.rare == nil {
		return nil
	}
	return wa.rare.ede
}

func (wa *Answer) soa() []byte {
	if wa.rare == nil {
		return nil
	}
	return wa.rare.soa
}

func (wa *Answer) cuts() []extraCut {
	if wa.rare == nil {
		return nil
	}
	return wa.rare.cuts
}

// Signed returns wa's signed variant, nil if none (or wa is nil).
func (wa *Answer) Signed() *Twin {
	if wa == nil || wa.rare == nil {
		return nil
	}
	return wa.rare.signed
}

// SetSigned gives wa its signed variant. Only for a reply not yet
// published.
func (wa *Answer) SetSigned(t *Twin) { wa.rareFields().signed = t }

// WithEDE returns a copy of wa that carries the EDE option ede (from
// EDEOption); wa and its rare fields are left as they are.
func (wa *Answer) WithEDE(ede []byte) *Answer {
	c := *wa
	r := rare{}
	if wa.rare != nil {
		r = *wa.rare
	}
	r.ede = ede
	c.rare = &r
	return &c
}
