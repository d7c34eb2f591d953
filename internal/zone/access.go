package zone

import (
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
)

// What the plugin reads of a zone, its services and their answers: their
// configuration never changes once the zone is built, so these return it
// as it is; slices are shared and must not be written to.

// Services returns the zone's services in file order.
func (z *Zone) Services() []*Service { return z.services }

// Source returns the document the zone was built from and its file's
// modification time, so that it can be built again with registered
// backends added (ParseWithBackends).
func (z *Zone) Source() ([]byte, time.Time) { return z.src, z.mtime }

// DropSource lets the zone's text go: Source then returns nil, and nothing
// can be rebuilt from it. For a zone nothing will rebuild.
func (z *Zone) DropSource() { z.src = nil }

// Names returns every owner name of the zone and its empty non-terminals,
// sorted.
func (z *Zone) Names() []string {
	out := make([]string, 0, len(z.nodes))
	for name := range z.nodes {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Name returns the service's name: absolute, lowercase.
func (s *Service) Name() string { return s.name }

// Backends returns the service's backends in file order; health is given
// to ComputeAnswers in this order.
func (s *Service) Backends() []*Backend { return s.backends }

// SRV returns the service's SRV owners.
func (s *Service) SRV() []SRVOwner { return s.srv }

// TTL returns the TTL of the service's healthy answers.
func (s *Service) TTL() uint32 { return s.ttl }

// DegradedTTL returns the TTL of its degraded answers.
func (s *Service) DegradedTTL() uint32 { return s.degradedTTL }

// Port returns the service's port, 0 if it has none.
func (s *Service) Port() uint16 { return s.port }

// MaxAnswers returns the most addresses an A or AAAA answer holds.
func (s *Service) MaxAnswers() int { return s.maxAnswers }

// Budget returns the service's failover_budget, 0 if none.
func (s *Service) Budget() time.Duration { return s.budget }

// Quorum returns N of `health: quorum N`, 0 for local health.
func (s *Service) Quorum() int { return s.quorum }

// OnAllDown returns what the service answers when no backend is healthy.
func (s *Service) OnAllDown() string { return s.onAllDown }

// File and Line return where the service is defined.
func (s *Service) File() string { return s.file }

// Line returns the line of the service's entry in its file.
func (s *Service) Line() int { return s.line }

// SetRotation sets the counter the service's A and AAAA queries take their
// rotation from (each adds one): two queries after the same SetRotation
// get the same answer. For tests that compare two paths.
func (s *Service) SetRotation(c uint32) { s.rot.Store(c) }

// Answers returns the service's current answers, nil before the first
// SetAnswers.
func (s *Service) Answers() *AnswerSet { return s.answers.Load() }

// SetAnswers publishes set (from ComputeAnswers) as the service's answers,
// and returns the ones it replaces; queries take the new ones from then on,
// without a lock.
func (s *Service) SetAnswers(set *AnswerSet) (old *AnswerSet) { return s.answers.Swap(set) }

// Retire marks the service as removed by a reload, once its metric series
// are deleted: a late query must not make them again (Retired).
func (s *Service) Retire() { s.retired.Store(true) }

// Retired reports whether Retire was called.
func (s *Service) Retired() bool { return s.retired.Load() }

// OverrideSeries reports whether an override metric series exists for a
// backend of the service; the plugin sets it (SetOverrideSeries) under its
// engine's mutex, and skips deleting series until there are some.
func (s *Service) OverrideSeries() bool { return s.overrideSeries }

// SetOverrideSeries records whether override series exist.
func (s *Service) SetOverrideSeries(some bool) { s.overrideSeries = some }

// Name returns the SRV owner's name: absolute, lowercase.
func (o SRVOwner) Name() string { return o.name }

// Addr returns the backend's address.
func (b *Backend) Addr() netip.Addr { return b.addr }

// Port returns the backend's port: its own or the service's, 0 for none.
func (b *Backend) Port() uint16 { return b.port }

// Line returns the line of the backend's entry in its zone file.
func (b *Backend) Line() int { return b.line }

// Site returns the backend's site.
func (b *Backend) Site() string { return b.site }

// Check returns the backend's health check target: the checker probes
// it by this pointer; it must not be written to (SetCheckSpec).
func (b *Backend) Check() *healthcheck.Target { return &b.check }

// SetCheckSpec replaces the spec of the backend's check: the engine gives
// checks the source address this instance probes from (probe_source).
// Only before the check's key is taken for a snapshot being installed.
func (b *Backend) SetCheckSpec(sp *healthcheck.Spec) { b.check.Spec = sp }

// Result returns what kind of answer ra is: Success, NoData or
// ServerFailure.
func (ra *ServiceAnswer) Result() Result { return ra.result }

// Degraded returns why ra is not the healthy local answer, nil if it is.
func (ra *ServiceAnswer) Degraded() *Degradation { return ra.degraded }

// Served returns the site that served ra (its first tier used).
func (ra *ServiceAnswer) Served() string { return ra.served }

// Members returns the indexes of the backends ra hands out.
func (ra *ServiceAnswer) Members() []int { return ra.members }

// Extra returns ra's additional records.
func (ra *ServiceAnswer) Extra() []dns.RR { return ra.extra }

// Rotations returns ra's records: one answer per rotation.
func (ra *ServiceAnswer) Rotations() [][]dns.RR { return ra.rotations }

// Made returns the number of signatures zs made.
func (zs *Signer) Made() uint64 { return zs.made.Load() }

// Now returns the signing time.
func (zs *Signer) Now() time.Time { return zs.now() }
