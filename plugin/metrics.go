package hadns

import (
	"fmt"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/zone"
)

// Metrics under coredns_hadns_. Series for answers are looked up when answers
// are built, so a query only increments a counter it already holds.
var (
	backendUp = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "backend_up",
		Help: "Whether a backend is handed out: 1 up, suspect or unchecked; 0 down.",
	}, []string{"service", "site", "backend"})
	healthyBackends = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "healthy_backends",
		Help: "Healthy backends of a service in a site.",
	}, []string{"service", "site"})
	checkDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "check_duration_seconds",
		Help:    "Duration of health probes, by kind and result.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"kind", "result"})
	transitions = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "transitions_total",
		Help: "Health transitions of a service's backends, by the state entered.",
	}, []string{"service", "backend", "to"})
	answers = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "answers_total",
		Help: "Service answers, by client site and the site that served them (the first tier used).",
	}, []string{"service", "client_site", "served_site"})
	degradedAnswers = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "degraded_answers_total",
		Help: "Service answers that were not the healthy local one: fallback, fail_open, nodata, servfail.",
	}, []string{"service", "client_site", "reason"})
	failoverBudget = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "failover_budget_seconds",
		Help: "Worst-case failover of a service: the slowest backend's detection bound plus the answer TTL.",
	}, []string{"service"})
	failoverBudgetLimit = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "failover_budget_limit_seconds",
		Help: "The failover_budget a service's zone file sets; absent when it sets none.",
	}, []string{"service"})
	backendOverride = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "backend_override",
		Help: "1 while an operator override (drain, down, up) holds for a backend.",
	}, []string{"service", "site", "backend", "override"})
	localProbeErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "local_probe_errors_total",
		Help: "Probes that could not be made for a reason on this host (out of file descriptors, memory, buffers or ports), by kind and cause; they leave backend states as they were.",
	}, []string{"kind", "cause"})
	localTroubleTargets = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "local_trouble_targets",
		Help: "Health targets whose latest probe could not be made for a reason on this host; their state is held from before.",
	})
	adminRejectedConns = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "admin_rejected_connections_total",
		Help: "Connections to the admin API closed at once because it held its limit of open connections.",
	})
	drainSafeAt = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "drain_safe_at_timestamp_seconds",
		Help: "When no cache that honours TTLs holds a drained backend any more (unix seconds); only for drained backends that left every answer.",
	}, []string{"service", "site", "backend"})
)

// Metrics of the plugin's own workings rather than of services.
var (
	fastPathBehindPlugins = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "fast_path_behind_plugins",
		Help: "1 when pre-packed answers pass through CoreDNS's writer between plugins; 0 when hadns cannot see through it and packs every answer per query behind other plugins (the reason is logged at start-up).",
	})
	unsentAnswers = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "unsent_answers_total",
		Help: "Replies that could not be sent, by reason: too_big (over 65535 bytes), write (the server's write failed).",
	}, []string{"reason"})
)

var fastPathOnce sync.Once

// Reasons a reply was not sent.
const (
	unsentTooBig = "too_big"
	unsentWrite  = "write"
)

// unsentLog limits the log of unsent replies to one line per reason per
// unsentLogEvery: a client that resets its connections would otherwise fill
// the log. The counter counts every one.
var unsentLog struct {
	mu   sync.Mutex
	last map[string]time.Time
	skip map[string]int
}

const unsentLogEvery = time.Minute

// noteUnsent counts, and logs, a reply to m's question that was not sent.
func noteUnsent(reason string, m *dns.Msg, err error) {
	unsentAnswers.WithLabelValues(reason).Inc()
	now := time.Now()
	unsentLog.mu.Lock()
	if unsentLog.last == nil {
		unsentLog.last, unsentLog.skip = map[string]time.Time{}, map[string]int{}
	}
	if now.Sub(unsentLog.last[reason]) < unsentLogEvery {
		unsentLog.skip[reason]++
		unsentLog.mu.Unlock()
		return
	}
	skipped := unsentLog.skip[reason]
	unsentLog.last[reason], unsentLog.skip[reason] = now, 0
	unsentLog.mu.Unlock()
	q := "?"
	if len(m.Question) == 1 {
		q = fmt.Sprintf("%q %s", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype])
	}
	switch reason {
	case unsentTooBig:
		log.Errorf("reply to %s not sent: %d bytes, more than a DNS message can hold (answered SERVFAIL instead; %d more since the last such line): %v", q, m.Len(), skipped, err)
	default:
		log.Warningf("reply to %s not sent: %v (%d more since the last such line)", q, err, skipped)
	}
}

// reportFastPath exports, and logs once, whether the packed fast path works
// behind other plugins.
func reportFastPath() {
	fastPathOnce.Do(func() {
		if pluginWriterProblem != "" {
			fastPathBehindPlugins.Set(0)
			log.Warningf("packed answers are off behind other plugins (log, prometheus...): %s; every answer is packed per query instead", pluginWriterProblem)
			return
		}
		fastPathBehindPlugins.Set(1)
		log.Infof("packed answers pass through the writers of plugins before hadns (fast path on)")
	})
}

// siteLabel names a client site in metrics; clients no network matches are
// "default".
func siteLabel(site string) string {
	if site == "" {
		return "default"
	}
	return site
}

// countAnswer counts one query from a client of site client (its metric
// label) answered with ra, an answer of svc: no allocation once the
// answer's series are made, on its first query.
func countAnswer(ra *zone.ServiceAnswer, svc *zone.Service, client string) {
	c := ra.Counters()
	if c == nil {
		c = resolveCounters(ra, svc, client)
	}
	c.Count.Inc()
	if c.Degraded != nil {
		c.Degraded.Inc()
	}
}

func resolveCounters(ra *zone.ServiceAnswer, svc *zone.Service, client string) *zone.Counters {
	served, degraded := ra.Served(), ""
	if served == "" {
		served = "none"
	}
	if ra.Degraded() != nil {
		degraded = ra.Degraded().Kind
	}
	c := &zone.Counters{Count: answers.WithLabelValues(svc.Name(), client, served)}
	if degraded != "" {
		c.Degraded = degradedAnswers.WithLabelValues(svc.Name(), client, degraded)
	}
	if svc.Retired() {
		// A query that read a snapshot a reload has since replaced, after
		// the service's series were deleted: do not bring them back.
		answers.DeleteLabelValues(svc.Name(), client, served)
		if degraded != "" {
			degradedAnswers.DeleteLabelValues(svc.Name(), client, degraded)
		}
	}
	return ra.SetCounters(c)
}

// setBackendGauges publishes a service's current health.
func setBackendGauges(s *zone.Service, h []zone.Health) {
	perSite := map[string]int{}
	for i, b := range s.Backends() {
		up := 0.0
		if zone.Usable(h[i]) {
			up = 1
			perSite[b.Site()]++
		} else if _, ok := perSite[b.Site()]; !ok {
			perSite[b.Site()] = 0
		}
		backendUp.WithLabelValues(s.Name(), b.Site(), b.ID()).Set(up)
	}
	for site, n := range perSite {
		healthyBackends.WithLabelValues(s.Name(), site).Set(float64(n))
	}
}

func countTransition(s *zone.Service, b *zone.Backend, to healthcheck.State) {
	transitions.WithLabelValues(s.Name(), b.ID(), to.String()).Inc()
}

// observeProbe is the checker's OnProbe hook.
func observeProbe(t healthcheck.Target, d time.Duration, err error) {
	result := "ok"
	switch {
	case healthcheck.IsLocal(err):
		result = "local_error"
		localProbeErrors.WithLabelValues(t.Spec.Kind, healthcheck.LocalErrorName(err)).Inc()
	case err != nil:
		result = "fail"
	}
	checkDuration.WithLabelValues(t.Spec.Kind, result).Observe(d.Seconds())
}

// observeLocalTrouble is the checker's OnLocalTrouble hook: one log line
// when its own trouble begins and one when it ends, not one per probe (at
// ten thousand targets that would be ten thousand lines a second).
func observeLocalTrouble(lt healthcheck.LocalTrouble) {
	localTroubleTargets.Set(float64(lt.Targets))
	if lt.Targets > 0 {
		log.Errorf("health checker: cannot probe (%s): a problem on this host, not the backends'; backend states are held until probes get through again", lt.LastErr)
		return
	}
	log.Infof("health checker: probes get through again (%d could not be made so far, the last: %s)", lt.Total, lt.LastErr)
}

// setBudgetGauges publishes the failover budget of every service of snap,
// and drops the limit of a service that no longer sets one. The series of
// removed services go with the rest of their series (liveSeries).
func setBudgetGauges(snap *snapshot) {
	for _, z := range snap.zones {
		for _, s := range z.Services() {
			failoverBudget.WithLabelValues(s.Name()).Set(s.FailoverBound().Seconds())
			if s.Budget() > 0 {
				failoverBudgetLimit.WithLabelValues(s.Name()).Set(s.Budget().Seconds())
			} else {
				failoverBudgetLimit.DeleteLabelValues(s.Name())
			}
		}
	}
}

// liveSeries knows the snapshot of every engine of the process, so that
// when a reload (of a zone file or of the Corefile) removes a service, a
// backend or a site, its series are deleted, unless another engine still
// has it. Without this a decommissioned backend's backend_up 0 would fire
// alerts forever. Engines that do not serve yet are counted too: their
// answers already hold their counters.
var liveSeries = &seriesRegistry{snaps: map[*engine]*snapshot{}}

type seriesRegistry struct {
	mu    sync.Mutex
	snaps map[*engine]*snapshot
}

// set records e's snapshot (nil: e is gone) and deletes the series of its
// previous snapshot that no engine has any more.
func (r *seriesRegistry) set(e *engine, snap *snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snaps[e]
	if snap == nil {
		delete(r.snaps, e)
	} else {
		r.snaps[e] = snap
	}
	if old == nil || old == snap {
		return
	}
	live := seriesKeys{}
	for _, s := range r.snaps {
		live.add(s)
	}
	gone := seriesKeys{}
	gone.add(old)
	for _, z := range old.zones {
		for _, s := range z.Services() {
			if live[s.Name()] == nil {
				s.Retire() // before its series go: see answerCtr.resolve
			}
		}
	}
	gone.deleteAbsent(live)
}

// drainKeys returns the drain tracker keys of every engine's backends.
func (r *seriesRegistry) drainKeys() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := map[string]bool{}
	for _, snap := range r.snaps {
		for _, z := range snap.zones {
			for _, s := range z.Services() {
				for _, b := range s.Backends() {
					keys[drainKey(s, b)] = true
				}
			}
		}
	}
	return keys
}

// seriesKeys is what series labels snapshots give rise to, by service.
// Series are deleted by their full labels, each in constant time: a
// partial match scans every series of a vector, which made removing
// thousands of services quadratic.
type seriesKeys map[string]*serviceKeys

type serviceKeys struct {
	backends map[[2]string]bool // site, backend
	sites    map[string]bool    // the sites of its backends
	clients  map[string]bool    // client site labels
}

func (k seriesKeys) add(snap *snapshot) {
	var clients []string
	if snap.sites != nil {
		for _, o := range snap.sites.Orders() {
			clients = append(clients, siteLabel(o.Site))
		}
	}
	for _, z := range snap.zones {
		for _, s := range z.Services() {
			sk := k[s.Name()]
			if sk == nil {
				sk = &serviceKeys{backends: map[[2]string]bool{}, sites: map[string]bool{}, clients: map[string]bool{}}
				k[s.Name()] = sk
			}
			for _, b := range s.Backends() {
				sk.backends[[2]string{b.Site(), b.ID()}] = true
				sk.sites[b.Site()] = true
			}
			for _, c := range clients {
				sk.clients[c] = true
			}
		}
	}
}

// Label values a series may have beyond the snapshot's names.
var (
	stateLabels     = []string{"unknown", "up", "suspect", "down"}
	overrideLabels  = []string{adminapi.ActionDrain, adminapi.ActionDown, adminapi.ActionUp}
	degradedReasons = []string{"fallback", "fail_open", "nodata", "servfail", "not_ready"}
)

// deleteAbsent deletes the series of every key of k that live lacks.
func (k seriesKeys) deleteAbsent(live seriesKeys) {
	empty := &serviceKeys{}
	for svc, sk := range k {
		lk := live[svc]
		if lk == nil {
			lk = empty
			failoverBudget.DeleteLabelValues(svc)
			failoverBudgetLimit.DeleteLabelValues(svc)
		}
		ids := map[string]bool{} // backends still live under some site
		for b := range lk.backends {
			ids[b[1]] = true
		}
		for b := range sk.backends {
			if lk.backends[b] {
				continue
			}
			site, id := b[0], b[1]
			backendUp.DeleteLabelValues(svc, site, id)
			drainSafeAt.DeleteLabelValues(svc, site, id)
			for _, o := range overrideLabels {
				backendOverride.DeleteLabelValues(svc, site, id, o)
			}
			if !ids[id] {
				for _, st := range stateLabels {
					transitions.DeleteLabelValues(svc, id, st)
				}
			}
		}
		// answers_total: every client site × served site (or none) pair
		// that is not live on both sides.
		served := append(mapsKeys(sk.sites), "none")
		for c := range sk.clients {
			for _, site := range served {
				if !(lk.clients[c] && (site == "none" && len(lk.clients) > 0 || lk.sites[site])) {
					answers.DeleteLabelValues(svc, c, site)
				}
			}
			if !lk.clients[c] {
				for _, r := range degradedReasons {
					degradedAnswers.DeleteLabelValues(svc, c, r)
				}
			}
		}
		for site := range sk.sites {
			if !lk.sites[site] {
				healthyBackends.DeleteLabelValues(svc, site)
			}
		}
	}
}

func mapsKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// setOverrideGauges publishes which override holds for each backend of s and,
// for drained backends no answer of set hands out any more, drain_safe_at.
func setOverrideGauges(s *zone.Service, held []*adminapi.Override, set *zone.AnswerSet, d *drainTracker) {
	some := false
	for _, o := range held {
		some = some || o != nil
	}
	if !some && !s.OverrideSeries() {
		return // the common case: no override, no series to delete
	}
	s.SetOverrideSeries(some)
	for i, b := range s.Backends() {
		id := b.ID()
		for _, act := range []string{adminapi.ActionDrain, adminapi.ActionDown, adminapi.ActionUp} {
			if held[i] != nil && held[i].Action == act {
				backendOverride.WithLabelValues(s.Name(), b.Site(), id, act).Set(1)
			} else {
				backendOverride.DeleteLabelValues(s.Name(), b.Site(), id, act)
			}
		}
		if held[i] != nil && held[i].Action == adminapi.ActionDrain && !inAnswers(set, i) {
			drainSafeAt.WithLabelValues(s.Name(), b.Site(), id).Set(float64(d.safeAt(s, b).UnixMilli()) / 1000)
		} else {
			drainSafeAt.DeleteLabelValues(s.Name(), b.Site(), id)
		}
	}
}
