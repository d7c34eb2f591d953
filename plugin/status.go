package hadns

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
)

// The JSON shapes of GET /v1/status. Field names are the API: hadns ctl and
// the status page read them, and scripts may.
type (
	statusDoc struct {
		Time      time.Time        `json:"time"`
		Ready     bool             `json:"ready"`
		Checker   checkerStatus    `json:"checker"`
		Zones     []zoneStatus     `json:"zones"`
		Overrides []overrideStatus `json:"overrides"`
	}
	// checkerStatus is the health checker's own trouble: probes it could
	// not make for a reason on this host (out of file descriptors, memory
	// or ports). The backends concerned keep their state meanwhile.
	checkerStatus struct {
		LocalTroubleTargets int       `json:"local_trouble_targets"`
		LocalTroubleSince   time.Time `json:"local_trouble_since,omitzero"`
		LocalErrorsTotal    uint64    `json:"local_errors_total"`
		LastLocalError      string    `json:"last_local_error,omitempty"`
	}
	zoneStatus struct {
		Zone     string          `json:"zone"`
		File     string          `json:"file"`
		Services []serviceStatus `json:"services"`
	}
	serviceStatus struct {
		Name        string             `json:"name"`
		TTL         uint32             `json:"ttl"`
		DegradedTTL uint32             `json:"degraded_ttl"`
		Failover    failoverStatus     `json:"failover"`
		Sites       []string           `json:"sites"` // sites with a backend, in the default order
		Backends    []backendStatus    `json:"backends"`
		Answers     []siteAnswerStatus `json:"answers"`
	}
	// failoverStatus is the worst case a client waits for a dead backend to
	// leave its cache (detection bound + TTL) beside the configured budget.
	failoverStatus struct {
		BoundSeconds  float64 `json:"bound_seconds"`
		BudgetSeconds float64 `json:"budget_seconds,omitempty"` // 0: no failover_budget set
	}
	backendStatus struct {
		ID      string `json:"id"`
		Address string `json:"address"`
		Port    uint16 `json:"port,omitempty"`
		Site    string `json:"site"`
		// State is what answers use: up, suspect, down, drained, or unknown
		// (not yet checked; handed out). Overrides are folded in.
		State string `json:"state"`
		// Checker is the health checker's own view, overrides aside.
		Checker          string    `json:"checker"`
		Check            string    `json:"check"`
		Since            time.Time `json:"since,omitzero"`
		LastCheck        time.Time `json:"last_check,omitzero"`
		LastError        string    `json:"last_error,omitempty"`
		Successes        int       `json:"successes"`
		Failures         int       `json:"failures"`
		LastProbeSeconds float64   `json:"last_probe_seconds"`
		// LocalError is set while the checker cannot probe this backend
		// for a reason on this host; State is held from before, since
		// LocalErrorSince.
		LocalError      string    `json:"local_error,omitempty"`
		LocalErrorSince time.Time `json:"local_error_since,omitzero"`
		Override        *Override `json:"override,omitempty"`
		InAnswers       bool      `json:"in_answers"`
		// DrainSafeAt is set for a drained backend that left every answer:
		// after it, no cache that honours TTLs holds the backend.
		DrainSafeAt *time.Time `json:"drain_safe_at,omitempty"`
		// DrainPending is true while a drained backend is still in some
		// answer (fail-open can keep it there).
		DrainPending bool `json:"drain_pending,omitempty"`
	}
	siteAnswerStatus struct {
		Site string         `json:"site"` // the client's site; "default" for clients no network matches
		A    answerStatus   `json:"a"`
		AAAA answerStatus   `json:"aaaa"`
		SRV  []answerStatus `json:"srv,omitempty"`
	}
	answerStatus struct {
		Owner      string      `json:"owner"`
		Result     string      `json:"result"` // success, nodata, servfail
		TTL        uint32      `json:"ttl,omitempty"`
		Addresses  []string    `json:"addresses,omitempty"`
		Targets    []srvStatus `json:"targets,omitempty"`
		Degraded   string      `json:"degraded,omitempty"`
		ServedSite string      `json:"served_site,omitempty"`
	}
	srvStatus struct {
		Priority uint16 `json:"priority"`
		Weight   uint16 `json:"weight"`
		Port     uint16 `json:"port"`
		Target   string `json:"target"`
	}
	overrideStatus struct {
		Override
		Matched []string `json:"matched"` // SERVICE/ID of every backend it selects now
		// Unmatched is true when it selects no backend of the current
		// zones: kept, since the backend may come back with a reload.
		Unmatched bool `json:"unmatched"`
		// Effective is false when a more specific override wins everywhere.
		Effective bool `json:"effective"`
	}
)

// status describes every zone of the engines, the newest engine winning
// when two serve the same zone (during a Corefile reload).
func status(engines []*engine, now time.Time) statusDoc {
	doc := statusDoc{Time: now.UTC(), Ready: true, Zones: []zoneStatus{}, Overrides: []overrideStatus{}}
	seen := map[string]bool{}
	matched := map[string][]string{}  // override ID → SERVICE/ID
	effectiveIDs := map[string]bool{} // override IDs that hold for some backend
	var overrides []Override
	stores := map[*overrideStore]bool{}
	if len(engines) > 0 {
		lt := engines[0].pool.trouble()
		doc.Checker = checkerStatus{LocalTroubleTargets: lt.Targets, LocalTroubleSince: lt.Since, LocalErrorsTotal: lt.Total, LastLocalError: lt.LastErr}
	}
	for i := len(engines) - 1; i >= 0; i-- {
		e := engines[i]
		if !stores[e.store] {
			stores[e.store] = true
			overrides = append(overrides, e.store.all()...)
		}
		snap := e.h.snap.Load()
		if snap == nil {
			continue
		}
		doc.Ready = doc.Ready && e.h.Ready()
		list := e.store.all()
		origins := make([]string, 0, len(snap.zones))
		for o := range snap.zones {
			origins = append(origins, o)
		}
		sort.Strings(origins)
		for _, origin := range origins {
			if seen[origin] {
				continue
			}
			seen[origin] = true
			z := snap.zones[origin]
			zs := zoneStatus{Zone: origin, File: z.file, Services: []serviceStatus{}}
			for _, s := range z.services {
				zs.Services = append(zs.Services, e.serviceStatus(s, snap, list, now, matched, effectiveIDs))
			}
			doc.Zones = append(doc.Zones, zs)
		}
	}
	sort.Slice(doc.Zones, func(i, j int) bool { return doc.Zones[i].Zone < doc.Zones[j].Zone })
	for _, o := range overrides {
		m := matched[o.ID]
		if m == nil {
			m = []string{}
		}
		doc.Overrides = append(doc.Overrides, overrideStatus{Override: o, Matched: m, Unmatched: len(m) == 0, Effective: effectiveIDs[o.ID]})
	}
	return doc
}

func (e *engine) serviceStatus(s *service, snap *snapshot, list []Override, now time.Time, matched map[string][]string, effectiveIDs map[string]bool) serviceStatus {
	set := s.answers.Load()
	e.mu.Lock()
	checker := e.checker // replaced by start, under mu
	e.mu.Unlock()
	ss := serviceStatus{
		Name: s.name, TTL: s.ttl, DegradedTTL: s.degradedTTL,
		Failover: failoverStatus{BoundSeconds: s.failoverBound().Seconds(), BudgetSeconds: s.budget.Seconds()},
		Sites:    []string{},
		Backends: make([]backendStatus, 0, len(s.backends)),
		Answers:  make([]siteAnswerStatus, 0, len(snap.sites.orders)),
	}
	for _, site := range snap.sites.orders[snap.sites.defaultIdx()].order {
		if slices.ContainsFunc(s.backends, func(b *backend) bool { return b.site == site }) {
			ss.Sites = append(ss.Sites, site)
		}
	}
	for i, b := range s.backends {
		for _, o := range list {
			if o.selector().matches(s.name, b) {
				matched[o.ID] = append(matched[o.ID], strings.TrimSuffix(s.name, ".")+"/"+b.ID())
			}
		}
		st, _ := checker.Status(b.check.Key())
		bs := backendStatus{
			ID: b.ID(), Address: b.addr.String(), Port: b.port, Site: b.site,
			Checker: st.State.String(), Check: describeCheck(b.check),
			Since: st.Since, LastCheck: st.LastCheck, LastError: st.LastErr,
			Successes: st.Successes, Failures: st.Failures, LastProbeSeconds: st.LastDuration.Seconds(),
			LocalError: st.LocalErr, LocalErrorSince: st.LocalSince,
			InAnswers: inAnswers(set, i),
		}
		o := effective(list, s.name, b, now)
		bs.State = healthName(fold(fromState(st.State), o), st.State)
		if o != nil {
			effectiveIDs[o.ID] = true
			bs.Override = o
			if o.Action == actDrain {
				if bs.InAnswers {
					bs.DrainPending = true
				} else {
					t := e.ops.drains.safeAt(s, b).UTC()
					bs.DrainSafeAt = &t
				}
			}
		}
		ss.Backends = append(ss.Backends, bs)
	}
	if set != nil {
		for i, o := range snap.sites.orders {
			if i >= len(set.bySite) {
				break
			}
			sa := &set.bySite[i]
			as := siteAnswerStatus{
				Site: siteLabel(o.site),
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

func answerOf(s *service, owner string, ra *rrAnswer) answerStatus {
	as := answerStatus{Owner: owner, ServedSite: ra.served}
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
			as.Targets = append(as.Targets, srvStatus{Priority: srv.Priority, Weight: srv.Weight, Port: srv.Port, Target: srv.Target})
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
