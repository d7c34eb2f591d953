package store

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// builder derives the next snapshot from the previous one for one batch of
// changes. A map is cloned the first time the batch writes it (copy on
// write), so a batch that touches one override copies only the overrides
// map, and the previous snapshot stays valid for whoever still holds it.
type builder struct {
	prefix   string
	validate ValidateFunc
	next     *Snapshot
	cloned   map[string]bool // "zones", "overrides", "registrations", "registrations/<svc>", ...
	events   []string        // log lines for refused values
	// fallback, on a full relist, is the previous snapshot: a zone refused
	// now keeps its previous good version from it.
	fallback *Snapshot
}

func newBuilder(prefix string, validate ValidateFunc, prev *Snapshot) *builder {
	n := *prev
	n.Stale, n.Saved = false, time.Time{}
	return &builder{prefix: prefix, validate: validate, next: &n, cloned: map[string]bool{}}
}

func (b *builder) once(name string) bool {
	if b.cloned[name] {
		return false
	}
	b.cloned[name] = true
	return true
}

func (b *builder) reject(key, why string) {
	if b.once("rejected") {
		b.next.Rejected = maps.Clone(b.next.Rejected)
	}
	b.next.Rejected[key] = why
	b.events = append(b.events, key+": "+why)
}

func (b *builder) unreject(key string) {
	if _, ok := b.next.Rejected[key]; !ok {
		return
	}
	if b.once("rejected") {
		b.next.Rejected = maps.Clone(b.next.Rejected)
	}
	delete(b.next.Rejected, key)
}

// inner returns the inner map of a two-level map for writing, cloning the
// outer map and that inner map once per batch.
func inner[V any](b *builder, kind string, outer *map[string]map[string]V, a string, create bool) map[string]V {
	if b.once(kind) {
		*outer = cloneOuter(*outer)
	}
	m, ok := (*outer)[a]
	if !ok {
		if !create {
			return nil
		}
		m = map[string]V{}
		(*outer)[a] = m
		b.cloned[kind+"/"+a] = true
		return m
	}
	if b.once(kind + "/" + a) {
		m = maps.Clone(m)
		(*outer)[a] = m
	}
	return m
}

// put applies one key's new value.
func (b *builder) put(kv *mvccpb.KeyValue) {
	key := string(kv.Key)
	pk, ok := parseKey(b.prefix, key)
	if !ok {
		return
	}
	switch pk.kind {
	case kindZones:
		if pk.a != CanonicalOrigin(pk.a) {
			b.reject(key, "zone key is not a canonical origin (lower case, final dot): "+pk.a)
			return
		}
		if b.validate != nil {
			if err := b.validate(pk.a, kv.Value); err != nil {
				// The previous version, if any, keeps serving.
				b.reject(key, "refused zone "+pk.a+": "+oneLine(err.Error()))
				if z, ok := b.fallback.zone(pk.a); ok {
					if b.once(kindZones) {
						b.next.Zones = maps.Clone(b.next.Zones)
					}
					b.next.Zones[pk.a] = z
				}
				return
			}
		}
		if b.once(kindZones) {
			b.next.Zones = maps.Clone(b.next.Zones)
		}
		b.next.Zones[pk.a] = Zone{Doc: kv.Value, ModRevision: kv.ModRevision}
	case kindOverrides:
		var o Override
		if err := strictJSON(kv.Value, &o); err != nil {
			b.reject(key, "bad override: "+err.Error())
			return
		}
		if b.once(kindOverrides) {
			b.next.Overrides = maps.Clone(b.next.Overrides)
		}
		b.next.Overrides[pk.a] = o
	case kindRegistrations:
		var r Registration
		if err := strictJSON(kv.Value, &r); err != nil {
			b.reject(key, "bad registration: "+err.Error())
			return
		}
		inner(b, kindRegistrations, &b.next.Registrations, pk.a, true)[pk.b] = r
	case kindObservations:
		var o Observation
		if err := strictJSON(kv.Value, &o); err != nil {
			b.reject(key, "bad observation: "+err.Error())
			return
		}
		inner(b, kindObservations, &b.next.Observations, pk.a, true)[pk.b] = o
	case kindServed:
		var s Served
		if err := strictJSON(kv.Value, &s); err != nil {
			b.reject(key, "bad served record: "+err.Error())
			return
		}
		inner(b, kindServed, &b.next.Served, pk.a, true)[pk.b] = s
	case kindInstances:
		if !b.putInstance(key, pk.a, kv.Value) {
			return
		}
	}
	b.unreject(key)
}

// del applies one key's deletion (by a client or by an expired lease).
func (b *builder) del(key string) {
	pk, ok := parseKey(b.prefix, key)
	if !ok {
		return
	}
	b.unreject(key)
	switch pk.kind {
	case kindZones:
		if _, ok := b.next.Zones[pk.a]; ok {
			if b.once(kindZones) {
				b.next.Zones = maps.Clone(b.next.Zones)
			}
			delete(b.next.Zones, pk.a)
		}
	case kindOverrides:
		if _, ok := b.next.Overrides[pk.a]; ok {
			if b.once(kindOverrides) {
				b.next.Overrides = maps.Clone(b.next.Overrides)
			}
			delete(b.next.Overrides, pk.a)
		}
	case kindRegistrations:
		delInner(b, kindRegistrations, &b.next.Registrations, pk)
	case kindObservations:
		delInner(b, kindObservations, &b.next.Observations, pk)
	case kindServed:
		delInner(b, kindServed, &b.next.Served, pk)
	case kindInstances:
		b.delInstance(pk.a)
	}
}

func delInner[V any](b *builder, kind string, outer *map[string]map[string]V, pk parsedKey) {
	if _, ok := (*outer)[pk.a][pk.b]; !ok {
		return
	}
	m := inner(b, kind, outer, pk.a, false)
	delete(m, pk.b)
	if len(m) == 0 {
		delete(*outer, pk.a)
	}
}

// strictJSON decodes one value and refuses unknown fields, so a typo in a
// hand-written value is a logged refusal rather than a silent default.
func strictJSON(data []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errTrailing
	}
	return nil
}

var errTrailing = errors.New("data after the JSON value")

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func (s *Snapshot) zone(origin string) (Zone, bool) {
	if s == nil {
		return Zone{}, false
	}
	z, ok := s.Zones[origin]
	return z, ok
}
