package hadns

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/admin"
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/zone"
)

// status describes the zones of e's snapshot that skip does not report,
// sorted by origin, with the backends each override of e's store selects.
// It reports false when no snapshot is loaded yet.
func (e *engine) status(now time.Time, skip func(zone string) bool) (admin.EngineStatus, bool) {
	snap := e.h.snap.Load()
	if snap == nil {
		return admin.EngineStatus{}, false
	}
	es := admin.EngineStatus{Ready: e.h.Ready(), Matched: map[string][]string{}}
	list := e.store.All()
	origins := make([]string, 0, len(snap.zones))
	for o := range snap.zones {
		origins = append(origins, o)
	}
	sort.Strings(origins)
	for _, origin := range origins {
		if skip(origin) {
			continue
		}
		z := snap.zones[origin]
		zs := adminapi.ZoneStatus{Zone: origin, File: z.File(), Services: []adminapi.ServiceStatus{}}
		for _, s := range z.Services() {
			zs.Services = append(zs.Services, e.serviceStatus(s, snap, list, now, es.Matched))
		}
		es.Zones = append(es.Zones, zs)
	}
	return es, true
}

func (e *engine) serviceStatus(s *zone.Service, snap *snapshot, list []adminapi.Override, now time.Time, matched map[string][]string) adminapi.ServiceStatus {
	set := s.Answers()
	e.mu.Lock()
	checker := e.checker // replaced by start, under mu
	e.mu.Unlock()
	ss := adminapi.ServiceStatus{
		Name: s.Name(), TTL: s.TTL(), DegradedTTL: s.DegradedTTL(),
		Failover: adminapi.FailoverStatus{BoundSeconds: s.FailoverBound().Seconds(), BudgetSeconds: s.Budget().Seconds()},
		Sites:    []string{},
		Backends: make([]adminapi.BackendStatus, 0, len(s.Backends())),
		Answers:  make([]adminapi.SiteAnswerStatus, 0, len(snap.sites.Orders())),
	}
	for _, site := range snap.sites.Orders()[snap.sites.Default()].Sites {
		if slices.ContainsFunc(s.Backends(), func(b *zone.Backend) bool { return b.Site() == site }) {
			ss.Sites = append(ss.Sites, site)
		}
	}
	for i, b := range s.Backends() {
		for _, o := range list {
			if matches(o.Selector(), s.Name(), b) {
				matched[o.ID] = append(matched[o.ID], strings.TrimSuffix(s.Name(), ".")+"/"+b.ID())
			}
		}
		st, _ := checker.Status(b.Check().Key())
		bs := adminapi.BackendStatus{
			ID: b.ID(), Address: b.Addr().String(), Port: b.Port(), Site: b.Site(),
			Checker: st.State.String(), Check: describeCheck(*b.Check()),
			Since: st.Since, LastCheck: st.LastCheck, LastError: st.LastErr,
			Successes: st.Successes, Failures: st.Failures, LastProbeSeconds: st.LastDuration.Seconds(),
			LocalError: st.LocalErr, LocalErrorSince: st.LocalSince,
			InAnswers: inAnswers(set, i),
		}
		o := effective(list, s.Name(), b, now)
		bs.State = healthName(fold(e.backendHealth(s, b), o), st.State)
		if o != nil {
			bs.Override = o
			if o.Action == adminapi.ActionDrain {
				if bs.InAnswers {
					bs.DrainPending = true
				} else {
					t := e.ops.drains.safeAt(s, b).UTC()
					bs.DrainSafeAt = &t
					bs.SetDrainSafeAt, bs.SetDrainPending = e.setDrainSafeAt(s, b, t, o.At)
				}
			}
		}
		ss.Backends = append(ss.Backends, bs)
	}
	if set != nil {
		for i, o := range snap.sites.Orders() {
			if i >= set.Len() {
				break
			}
			as := adminapi.SiteAnswerStatus{
				Site: siteLabel(o.Site),
				A:    answerOf(s, s.Name(), set.For(i, dns.TypeA, 0)),
				AAAA: answerOf(s, s.Name(), set.For(i, dns.TypeAAAA, 0)),
			}
			for j := range s.SRV() {
				as.SRV = append(as.SRV, answerOf(s, s.SRV()[j].Name(), set.For(i, dns.TypeSRV, j)))
			}
			ss.Answers = append(ss.Answers, as)
		}
	}
	return ss
}

// healthName is a backend's state for people: selection's view, except
// that a backend not yet checked is "unknown" (handed out all the same).
func healthName(h zone.Health, checker healthcheck.State) string {
	switch h {
	case zone.Suspect:
		return "suspect"
	case zone.Down:
		return "down"
	case zone.Drained:
		return "drained"
	}
	if checker == healthcheck.Unknown {
		return "unknown"
	}
	return "up"
}

func describeCheck(t healthcheck.Target) string {
	s := t.Spec.Kind + " " + t.ProbeAddr().String()
	if t.Spec.Kind == "http" || t.Spec.Kind == "https" {
		s += t.Spec.Path
	}
	return s
}

func answerOf(s *zone.Service, owner string, ra *zone.ServiceAnswer) adminapi.AnswerStatus {
	as := adminapi.AnswerStatus{Owner: owner, ServedSite: ra.Served()}
	switch ra.Result() {
	case zone.Success:
		as.Result = "success"
	case zone.NoData:
		as.Result = "nodata"
	default:
		as.Result = "servfail"
	}
	if ra.Degraded() != nil {
		as.Degraded = ra.Degraded().Text
	}
	as.TTL = ra.TTL()
	if len(ra.Rotations()) == 0 {
		return as
	}
	for _, rr := range ra.Rotations()[0] {
		if srv, ok := rr.(*dns.SRV); ok {
			as.Targets = append(as.Targets, adminapi.SRVStatus{Priority: srv.Priority, Weight: srv.Weight, Port: srv.Port, Target: srv.Target})
		}
	}
	if as.Targets == nil {
		// Every address the answer rotates through, not only the first
		// max_answers of one rotation.
		for _, bi := range ra.Members() {
			as.Addresses = append(as.Addresses, s.Backends()[bi].Addr().String())
		}
	}
	return as
}
