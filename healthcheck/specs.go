package healthcheck

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Specs interns checks: Intern returns one shared *Spec for every equal
// check, so that the targets of many backends checked alike hold a pointer
// each rather than a copy of the whole Spec (over 300 bytes). The zero
// value is ready to use, and safe for concurrent use. A Specs holds every
// Spec it was given until it is dropped: make one per configuration load,
// not one per process.
type Specs struct {
	mu sync.Mutex
	m  map[string]*Spec
}

// Intern returns a shared Spec equal to s with its defaults filled in
// (WithDefaults). Two specs that differ only in a default spelled out or
// left zero get the same pointer. The returned Spec must not be modified.
func (ss *Specs) Intern(s Spec) *Spec {
	s = s.WithDefaults()
	k := s.internKey()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if p, ok := ss.m[k]; ok {
		return p
	}
	if ss.m == nil {
		ss.m = map[string]*Spec{}
	}
	// Its own copies of the map and slice, so a caller that changes
	// theirs later cannot change a shared check.
	s.Headers = maps.Clone(s.Headers)
	s.Status = slices.Clone(s.Status)
	p := &s
	ss.m[k] = p
	return p
}

// Len returns how many distinct specs ss holds.
func (ss *Specs) Len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// internKey is s's identity for Intern: every field, Kind and Port
// included, in the encoding Target.Key uses for the rest.
func (s *Spec) internKey() string {
	var b strings.Builder
	b.Grow(128)
	b.WriteString(s.Kind)
	b.WriteString(" port=")
	b.WriteString(strconv.Itoa(s.Port))
	s.writeQuery(&b)
	return b.String()
}
