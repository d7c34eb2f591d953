package hadns

import (
	"strings"
	"testing"
	"time"

	"github.com/hadns/hadns/internal/zone"
	"github.com/miekg/dns"
)

// TestDrainSafeAt checks the drain_safe_at arithmetic: the latest of
// (time an answer holding the backend was replaced + that answer's TTL).
func TestDrainSafeAt(t *testing.T) {
	s, orders := selService(t, func(z string) string { return strings.Replace(z, "ttl: 20", "ttl: 10", 1) })
	x := s.Backends()[0] // 10.1.0.1, east
	t0 := time.Unix(1_000_000, 0)
	d := newDrainTracker(t0)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	cur := zone.ComputeAnswers(s, health(s, nil), orders)
	swap := func(sec int, h map[string]zone.Health) {
		next := zone.ComputeAnswers(s, health(s, h), orders)
		d.replaced(at(sec), s, cur)
		cur = next
	}

	// Never handed out by this process: a previous one may have, up to our
	// start, with at most the service TTL.
	if got := d.safeAt(s, x); !got.Equal(at(10)) {
		t.Fatalf("no history: safe at %v, want start + TTL %v", got, at(10))
	}

	// TTL 10 answers holding x replaced at T=100 by suspect (TTL 1)
	// answers still holding it; those replaced at T=102 by answers without
	// it (drained). The suspect answer does not lower the bound: T+10.
	swap(100, map[string]zone.Health{"10.1.0.2": zone.Suspect})
	if !inAnswers(cur, 0) {
		t.Fatal("x left the answers before it was drained")
	}
	if ttl := cur.For(0, dns.TypeA, 0).TTL(); ttl != 1 {
		t.Fatalf("suspect answer TTL %d, want 1", ttl)
	}
	swap(102, map[string]zone.Health{"10.1.0.2": zone.Suspect, "10.1.0.1": zone.Drained})
	if inAnswers(cur, 0) {
		t.Fatal("drained x is still in an answer")
	}
	if got := d.safeAt(s, x); !got.Equal(at(110)) {
		t.Fatalf("safe at %v, want T+10 = %v", got, at(110))
	}

	// Later swaps of answers without x change nothing.
	swap(105, map[string]zone.Health{"10.1.0.1": zone.Drained})
	if got := d.safeAt(s, x); !got.Equal(at(110)) {
		t.Fatalf("after an unrelated swap: safe at %v, want %v", got, at(110))
	}

	// Undrained at 200 and drained again at 300: the TTL 10 answers it was
	// in were replaced at 300, so T+310.
	swap(200, nil)
	swap(300, map[string]zone.Health{"10.1.0.1": zone.Drained})
	if got := d.safeAt(s, x); !got.Equal(at(310)) {
		t.Fatalf("second drain: safe at %v, want %v", got, at(310))
	}

	// A fallback answer (degraded TTL 5) replaced at 400 gives 405, not
	// more: each answer counts with its own TTL.
	y := s.Backends()[2] // 10.2.0.1, west: east clients fall back to it
	before := d.safeAt(s, y)
	swap(400, map[string]zone.Health{"10.1.0.1": zone.Down, "10.1.0.2": zone.Down})
	swap(401, map[string]zone.Health{"10.1.0.1": zone.Down, "10.1.0.2": zone.Down, "10.2.0.1": zone.Drained})
	if got := d.safeAt(s, y); !got.Equal(at(411)) {
		t.Fatalf("y: safe at %v (before %v), want 411: west's own TTL 10 answer replaced at 401", got, before)
	}

	// Everything else down: fail-open never hands out a drained backend (a
	// drain is deliberate); it opens the next site instead, so x stays out.
	swap(500, map[string]zone.Health{"10.1.0.1": zone.Drained, "10.1.0.2": zone.Drained, "10.2.0.1": zone.Down, "10.2.0.2": zone.Down, "10.3.0.1": zone.Down, "2001:db8::1": zone.Down})
	if inAnswers(cur, 0) {
		t.Fatal("fail-open handed out the drained x")
	}
}
