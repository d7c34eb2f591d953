package store

import (
	"maps"
	"slices"
	"time"
)

// Presence is the JSON value of an instances/<instance> key: a running
// instance, written by Announce when its server starts, under the instance's lease, so
// that the key exists exactly while the instance is alive (its lease is
// kept alive). The set-wide drain_safe_at waits for every present
// instance.
type Presence struct {
	Since time.Time `json:"since"` // when the instance's store started
}

// InstanceKey is prefix + "instances/" + instance.
func (s *Store) InstanceKey(instance string) string {
	return s.cfg.Prefix + kindInstances + "/" + esc(instance)
}

// Announce publishes this instance's presence: a server calls it once
// after Start (hadns ctl, which only writes, never does). Like every write
// under the instance lease it never waits for etcd, and after a lost lease
// the new lease writes it again.
func (s *Store) Announce() error {
	return s.publishOwn(s.InstanceKey(s.cfg.Instance), Presence{Since: s.opt.Clock.Now().UTC()})
}

// putInstance applies an instances/<instance> value; false when refused.
func (b *builder) putInstance(key, instance string, val []byte) bool {
	var p Presence
	if err := strictJSON(val, &p); err != nil {
		b.reject(key, "bad presence: "+err.Error())
		return false
	}
	if b.once(kindInstances) {
		b.next.Instances = maps.Clone(b.next.Instances)
	}
	b.next.Instances[instance] = p
	return true
}

func (b *builder) delInstance(instance string) {
	if _, ok := b.next.Instances[instance]; !ok {
		return
	}
	if b.once(kindInstances) {
		b.next.Instances = maps.Clone(b.next.Instances)
	}
	delete(b.next.Instances, instance)
}

// SetDrainSafeAt is the set-wide drain_safe_at of a backend under the drain
// override created at drainFor, as instance self sees it: the latest
// Last+TTL over every other instance's record on this drain (self adds its
// own time), and pending, the live instances (a presence key) but self
// that have not recorded anything on this drain yet, in order. While one
// is pending, at is not the set's time: that instance may still hand the
// backend out, and the caller must not present at as safe.
//
// A record is on this drain when its For is drainFor: one left from an
// earlier drain of the same backend does not count.
func (s *Snapshot) SetDrainSafeAt(backend, self string, drainFor time.Time) (at time.Time, pending []string) {
	for inst, m := range s.Served {
		if sv, ok := m[backend]; ok && inst != self && sv.For.Equal(drainFor) && sv.SafeAt().After(at) {
			at = sv.SafeAt()
		}
	}
	for inst := range s.Instances {
		if sv, ok := s.Served[inst][backend]; inst != self && (!ok || !sv.For.Equal(drainFor)) {
			pending = append(pending, inst)
		}
	}
	slices.Sort(pending)
	return at, pending
}
