package store

import (
	"errors"
	"net/url"
	"strings"
)

// LayoutVersion is the version of the key layout; it is the last segment
// of DefaultPrefix. A layout change that old instances would misread gets
// a new version (and so a new prefix), never a reinterpretation of v1.
const LayoutVersion = "v1"

// Key kinds: the first segment under the prefix.
const (
	kindZones         = "zones"
	kindOverrides     = "overrides"
	kindRegistrations = "registrations"
	kindObservations  = "observations"
	kindServed        = "served"
	kindInstances     = "instances"
)

// Each name component is path-escaped (url.PathEscape) in the key, so an
// origin, backend or target may hold any character, "/" included, and a key
// still splits into exactly its segments.
func esc(s string) string { return url.PathEscape(s) }

// validComponent refuses components that cannot make a usable key.
func validComponent(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > 1024 {
		return errors.New("name longer than 1024 bytes")
	}
	return nil
}

// CanonicalOrigin lower-cases a zone origin and adds the final dot, so one
// zone has one key whatever spelling a writer used.
func CanonicalOrigin(origin string) string {
	o := strings.ToLower(strings.TrimSpace(origin))
	if !strings.HasSuffix(o, ".") {
		o += "."
	}
	return o
}

// ZoneKey is prefix + "zones/" + origin (canonical).
func (s *Store) ZoneKey(origin string) string {
	return s.cfg.Prefix + kindZones + "/" + esc(CanonicalOrigin(origin))
}

// OverrideKey is prefix + "overrides/" + id.
func (s *Store) OverrideKey(id string) string {
	return s.cfg.Prefix + kindOverrides + "/" + esc(id)
}

// RegistrationKey is prefix + "registrations/" + service + "/" + backend.
func (s *Store) RegistrationKey(service, backend string) string {
	return s.cfg.Prefix + kindRegistrations + "/" + esc(service) + "/" + esc(backend)
}

// ObservationKey is prefix + "observations/" + instance + "/" + target.
func (s *Store) ObservationKey(instance, target string) string {
	return s.cfg.Prefix + kindObservations + "/" + esc(instance) + "/" + esc(target)
}

// ServedKey is prefix + "served/" + instance + "/" + backend.
func (s *Store) ServedKey(instance, backend string) string {
	return s.cfg.Prefix + kindServed + "/" + esc(instance) + "/" + esc(backend)
}

// parsedKey is a key split into its kind and unescaped name components.
type parsedKey struct {
	kind string
	a, b string // a: origin, id, service or instance; b: backend or target
}

// parseKey splits a full key. ok is false for keys outside the layout
// (a later layout's kinds, stray keys): the watcher ignores them.
func parseKey(prefix, key string) (parsedKey, bool) {
	rest, found := strings.CutPrefix(key, prefix)
	if !found {
		return parsedKey{}, false
	}
	parts := strings.Split(rest, "/")
	want := 0
	switch parts[0] {
	case kindZones, kindOverrides, kindInstances:
		want = 2
	case kindRegistrations, kindObservations, kindServed:
		want = 3
	default:
		return parsedKey{}, false
	}
	if len(parts) != want {
		return parsedKey{}, false
	}
	pk := parsedKey{kind: parts[0]}
	var err error
	if pk.a, err = url.PathUnescape(parts[1]); err != nil || pk.a == "" {
		return parsedKey{}, false
	}
	if want == 3 {
		if pk.b, err = url.PathUnescape(parts[2]); err != nil || pk.b == "" {
			return parsedKey{}, false
		}
	}
	return pk, true
}
