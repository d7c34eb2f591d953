package hadns

// wireRare is what only some packed replies carry. Most replies of a zone
// are plain positive answers in an unsigned zone, which have none of it:
// they leave wireAnswer.rare nil and pay one pointer, not these fields.
type wireRare struct {
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
	// signed is this reply with its RRSIGs, in a signed zone (dnssec.go).
	signed *signedTwin
}

// rareFields returns wa's rare fields, making them if it has none. Only
// for a reply not yet published.
func (wa *wireAnswer) rareFields() *wireRare {
	if wa.rare == nil {
		wa.rare = &wireRare{}
	}
	return wa.rare
}

func (wa *wireAnswer) ede() []byte {
	if wa.rare == nil {
		return nil
	}
	return wa.rare.ede
}

func (wa *wireAnswer) soa() []byte {
	if wa.rare == nil {
		return nil
	}
	return wa.rare.soa
}

func (wa *wireAnswer) cuts() []extraCut {
	if wa.rare == nil {
		return nil
	}
	return wa.rare.cuts
}

// signedTwin is wa's signed variant, nil if none (or wa is nil).
func (wa *wireAnswer) signedTwin() *signedTwin {
	if wa == nil || wa.rare == nil {
		return nil
	}
	return wa.rare.signed
}

// withEDE returns a copy of wa that carries the EDE option ede; wa and
// its rare fields are left as they are.
func (wa *wireAnswer) withEDE(ede []byte) *wireAnswer {
	c := *wa
	r := wireRare{}
	if wa.rare != nil {
		r = *wa.rare
	}
	r.ede = ede
	c.rare = &r
	return &c
}
