package store

import (
	"maps"
	"time"
)

// Override is the JSON value of an overrides/<id> key: an operator's drain,
// down or up, set-wide. Clearing an override deletes its key.
type Override struct {
	Action   string    `json:"action"`   // drain, down or up; the plugin checks the words
	Selector Selector  `json:"selector"` // which backends it applies to
	Reason   string    `json:"reason,omitempty"`
	By       string    `json:"by,omitempty"`     // who set it
	Expires  time.Time `json:"expires,omitzero"` // zero: until cleared; else etcd deletes the key then (a lease)
	Created  time.Time `json:"created,omitzero"` // when it was first written
}

// Selector picks backends, as the admin API's override request does:
// exactly one of Backend (an address), Site or Glob is set; the plugin
// validates it.
type Selector struct {
	Backend string `json:"backend,omitempty"`
	Site    string `json:"site,omitempty"`
	Glob    string `json:"glob,omitempty"`
}

// Active reports whether the override still applies at now. etcd deletes
// an expiring override's key itself, but only with whole-second lease
// granularity and never before its own minimum TTL, so readers also drop
// an override whose time has passed.
func (o Override) Active(now time.Time) bool {
	return o.Expires.IsZero() || now.Before(o.Expires)
}

// Registration is the JSON value of a registrations/<service>/<backend>
// key: a backend that registered itself at run time. Its key is bound to
// the registrant's lease. The fields are a zone file's backend fields.
type Registration struct {
	Address  string  `json:"address"`            // IPv4 or IPv6 address
	Port     uint16  `json:"port,omitempty"`     // default the service's port
	Site     string  `json:"site"`               // the site the backend is in
	Weight   *uint16 `json:"weight,omitempty"`   // default 1
	Hostname string  `json:"hostname,omitempty"` // SRV target
}

// Observation is the JSON value of an observations/<instance>/<target>
// key: one instance's view of one backend, written on change only under
// the instance's lease.
type Observation struct {
	State string    `json:"state"` // the checker's state word: up or down
	Since time.Time `json:"since"` // when the instance saw it change to State
}

// Served is the JSON value of a served/<instance>/<backend> key: when the
// instance last handed the backend out and with what TTL, so that the set's
// drain_safe_at is the latest Last+TTL over every instance.
type Served struct {
	Last time.Time     `json:"last"`
	TTL  time.Duration `json:"ttl"`
	// For is the creation time of the drain override the record is
	// about, so a record left from an earlier drain of the backend is not
	// taken for a report on the current one.
	For time.Time `json:"for,omitzero"`
}

// SafeAt is the moment after which no cache can still hold the answer.
func (s Served) SafeAt() time.Time { return s.Last.Add(s.TTL) }

// Zone is one zone document as the store holds it.
type Zone struct {
	Doc         []byte `json:"doc"`     // the YAML, validated by the ValidateFunc
	ModRevision int64  `json:"mod_rev"` // etcd revision of its last change
}

// Snapshot is the store's whole content at one revision. It is immutable:
// a new Snapshot is built for every applied batch (the maps that did not
// change are shared with the previous one, so never modify any of them).
type Snapshot struct {
	// Revision is the etcd revision the snapshot reflects.
	Revision int64 `json:"revision"`
	// Stale is true for a snapshot read from the local last-known-good
	// file because etcd could not be reached: serve it, it is the best
	// data there is, and it never means anything is down.
	Stale bool `json:"-"`
	// Saved is when the snapshot was persisted (for a stale one: how old
	// it is). Zero for one fresh from etcd.
	Saved time.Time `json:"saved,omitzero"`

	Zones         map[string]Zone                    `json:"zones"`         // origin → zone
	Overrides     map[string]Override                `json:"overrides"`     // id → override
	Registrations map[string]map[string]Registration `json:"registrations"` // service → backend → registration
	Observations  map[string]map[string]Observation  `json:"observations"`  // instance → target → observation
	Served        map[string]map[string]Served       `json:"served"`        // instance → backend → served
	Instances     map[string]Presence                `json:"instances"`     // instance → presence: the live ones

	// Rejected holds the values the store refused (a zone its validator
	// refused, JSON that does not parse), by key, with the reason. For a
	// refused zone, Zones keeps its previous good version.
	Rejected map[string]string `json:"-"`
}

// emptySnapshot has every map non-nil, so readers never check for nil.
func emptySnapshot() *Snapshot {
	return &Snapshot{
		Zones:         map[string]Zone{},
		Overrides:     map[string]Override{},
		Registrations: map[string]map[string]Registration{},
		Observations:  map[string]map[string]Observation{},
		Served:        map[string]map[string]Served{},
		Instances:     map[string]Presence{},
		Rejected:      map[string]string{},
	}
}

// fillNil makes every map of a decoded snapshot non-nil.
func (s *Snapshot) fillNil() {
	e := emptySnapshot()
	if s.Zones == nil {
		s.Zones = e.Zones
	}
	if s.Overrides == nil {
		s.Overrides = e.Overrides
	}
	if s.Registrations == nil {
		s.Registrations = e.Registrations
	}
	if s.Observations == nil {
		s.Observations = e.Observations
	}
	if s.Served == nil {
		s.Served = e.Served
	}
	if s.Instances == nil {
		s.Instances = e.Instances
	}
	if s.Rejected == nil {
		s.Rejected = e.Rejected
	}
}

// cloneOuter copies a two-level map's outer map; inner maps stay shared
// until one is cloned for a write.
func cloneOuter[V any](m map[string]map[string]V) map[string]map[string]V {
	return maps.Clone(m)
}
