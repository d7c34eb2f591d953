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
		zs := adminapi.ZoneStatus{Zone: origin, File: z.file, Services: []adminapi.ServiceStatus{}}
		for _, s := range z.services {
			zs.Services = append(zs.Services, e.serviceStatus(s, snap, list, now, es.Matched))
		}
		es.Zones = append(es.Zones, zs)
	}
	return es, true
}

func (e *engine) serviceStatus(s *service, snap *snapshot, list []adminapi.Override, now time.Time, matched map[string][]string) adminapi.ServiceStatus {
	set := s.answers.Load()
	e.mu.Lock()
	checker := e.checker // replaced by start, under mu
	e.mu.Unlock()
	ss := adminapi.ServiceStatus{
		Name: s.name, TTL: s.ttl, DegradedTTL: s.degradedTTL,
		Failover: adminapi.FailoverStatus{BoundSeconds: s.failoverBound().Seconds(), BudgetSeconds: s.budget.Seconds()},
		Sites:    []string{},
		Backends: make([]adminapi.BackendStatus, 0, len(s.backends)),
		Answers:  make([]adminapi.SiteAnswerStatus, 0, len(snap.sites.Orders())),
	}
	for _, site := range snap.sites.Orders()[snap.sites.Default()].Sites {
		if slices.ContainsFunc(s.backends, func(b *backend) bool { return b.site == site }) {
			ss.Sites = append(ss.Sites, site)
		}
	}
	for i, b := range s.backends {
		for _, o := range list {
			if matches(o.Selector(), s.name, b) {
				matched[o.ID] = append(matched[o.ID], strings.TrimSuffix(s.name, ".")+"/"+b.ID())
			}
		}
		st, _ := checker.Status(b.check.Key())
		bs := adminapi.BackendStatus{
			ID: b.ID(), Address: b.addr.String(), Port: b.port, Site: b.site,
			Checker: st.State.String(), Check: describeCheck(b.check),
			Since: st.Since, LastCheck: st.LastCheck, LastError: st.LastErr,
			Successes: st.Successes, Failures: st.Failures, LastProbeSeconds: st.LastDuration.Seconds(),
			LocalError: st.LocalErr, LocalErrorSince: st.LocalSince,
			InAnswers: inAnswers(set, i),
		}
		o := effective(list, s.name, b, now)
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
			if i >= len(set.bySite) {
				break
			}
			sa := &set.bySite[i]
			as := adminapi.SiteAnswerStatus{
				Site: siteLabel(o.Site),
				A:    answerOf(s, s.name, &sa.a),
				AAAA: answerOf(s, s.name, &sa.aaaa),
			}
			for j := range sa.srv {
				as.SRV = append(as.SRV, answerOf(s, s.srv[j].name, &sa.srv[j]))
			}
			ss.Answers = append(ss.Answers, as)
		}
	}
	return ss
}

// healthName is a backend's state for people: selection's view, except
// that a backend not yet checked is "unknown" (handed out all the same).
func healthName(h Health, checker healthcheck.State) string {
	switch h {
	case Suspect:
		return "suspect"
	case Down:
		return "down"
	case Drained:
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

func answerOf(s *service, owner string, ra *rrAnswer) adminapi.AnswerStatus {
	as := adminapi.AnswerStatus{Owner: owner, ServedSite: ra.served}
	switch ra.result {
	case Success:
		as.Result = "success"
	case NoData:
		as.Result = "nodata"
	default:
		as.Result = "servfail"
	}
	if ra.degraded != nil {
		as.Degraded = ra.degraded.text
	}
	as.TTL = ra.ttl()
	if len(ra.rotations) == 0 {
		return as
	}
	for _, rr := range ra.rotations[0] {
		if srv, ok := rr.(*dns.SRV); ok {
			as.Targets = append(as.Targets, adminapi.SRVStatus{Priority: srv.Priority, Weight: srv.Weight, Port: srv.Port, Target: srv.Target})
		}
	}
	if as.Targets == nil {
		// Every address the answer rotates through, not only the first
		// max_answers of one rotation.
		for _, bi := range ra.members {
			as.Addresses = append(as.Addresses, s.backends[bi].addr.String())
		}
	}
	return as
}
