package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestSetDrainSafeAt(t *testing.T) {
	drain := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	earlier := drain.Add(-time.Hour)
	rec := func(last time.Time, forDrain time.Time) Served {
		return Served{Last: last, TTL: 30 * time.Second, For: forDrain}
	}
	live := func(names ...string) map[string]Presence {
		m := map[string]Presence{}
		for _, n := range names {
			m[n] = Presence{Since: earlier}
		}
		return m
	}
	for _, tc := range []struct {
		name      string
		served    map[string]map[string]Served
		instances map[string]Presence
		at        time.Time
		pending   []string
	}{
		{"alone", nil, live("ns1"), time.Time{}, nil},
		{"every peer reported", map[string]map[string]Served{
			"ns2": {"b": rec(drain.Add(5*time.Second), drain)},
			"ns3": {"b": rec(drain.Add(9*time.Second), drain)},
		}, live("ns1", "ns2", "ns3"), drain.Add(39 * time.Second), nil},
		{"a peer has not reported yet", map[string]map[string]Served{
			"ns2": {"b": rec(drain.Add(5*time.Second), drain)},
		}, live("ns1", "ns2", "ns3"), drain.Add(35 * time.Second), []string{"ns3"}},
		{"a record from an earlier drain does not count", map[string]map[string]Served{
			"ns2": {"b": rec(drain.Add(5*time.Second), drain)},
			"ns3": {"b": rec(earlier.Add(time.Minute), earlier)},
		}, live("ns1", "ns2", "ns3"), drain.Add(35 * time.Second), []string{"ns3"}},
		{"a record of another backend does not count", map[string]map[string]Served{
			"ns2": {"other": rec(drain.Add(5*time.Second), drain)},
		}, live("ns1", "ns2"), time.Time{}, []string{"ns2"}},
		{"own record is the caller's", map[string]map[string]Served{
			"ns1": {"b": rec(drain.Add(time.Hour), drain)},
		}, live("ns1"), time.Time{}, nil},
		{"a dead instance (no presence) is not waited for", map[string]map[string]Served{
			"ns2": {"b": rec(drain.Add(5*time.Second), drain)},
		}, live("ns1", "ns2"), drain.Add(35 * time.Second), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := emptySnapshot()
			if tc.served != nil {
				s.Served = tc.served
			}
			s.Instances = tc.instances
			at, pending := s.SetDrainSafeAt("b", "ns1", drain)
			if !at.Equal(tc.at) || !slices.Equal(pending, tc.pending) {
				t.Errorf("got %s pending %v, want %s pending %v", at, pending, tc.at, tc.pending)
			}
		})
	}
}

// TestPresence: a store announces its instance under the instance
// lease; the key goes when the instance closes (lease revoked) and, for a
// crashed one, when the lease runs out.
func TestPresence(t *testing.T) {
	srv := startEtcd(t)
	cfg := testConfig(srv.Endpoint)
	r := newStore(t, cfg, Options{})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.Announce(); err != nil {
		t.Fatal(err)
	}
	cfg2 := cfg
	cfg2.Instance = "ns2"
	peer := newStore(t, cfg2, Options{})
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	if err := peer.Announce(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both present", 5*time.Second, func() bool {
		in := r.Snapshot().Instances
		_, a := in[cfg.Instance]
		_, b := in["ns2"]
		return a && b && len(in) == 2
	})
	resp, err := rawClient(t, srv.Endpoint).Get(context.Background(), r.InstanceKey("ns2"))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("presence key %v %v: want one, under a lease", resp, err)
	}
	// A crash: the keepalive stops, nothing is revoked.
	peer.mu.Lock()
	il := peer.instance
	peer.instance = nil
	peer.mu.Unlock()
	il.stop(peer, false)
	waitFor(t, "crashed instance gone", cfg.InstanceTTL+3*time.Second, func() bool {
		_, ok := r.Snapshot().Instances["ns2"]
		return !ok
	})
}
