package hadns

import (
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hadns/hadns/healthcheck"
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

// siteLabel names a client site in metrics; clients no network matches are
// "default".
func siteLabel(site string) string {
	if site == "" {
		return "default"
	}
	return site
}

// countersFor resolves the series an answer increments.
func countersFor(s *service, o siteOrder, ra *rrAnswer) {
	served := ra.served
	if served == "" {
		served = "none"
	}
	ra.count = answers.WithLabelValues(s.name, siteLabel(o.site), served)
	if ra.degraded != nil {
		ra.degradedCount = degradedAnswers.WithLabelValues(s.name, siteLabel(o.site), ra.degraded.kind)
	}
}

// setBackendGauges publishes a service's current health.
func setBackendGauges(s *service, h []Health) {
	perSite := map[string]int{}
	for i, b := range s.backends {
		up := 0.0
		if usable(h[i]) {
			up = 1
			perSite[b.site]++
		} else if _, ok := perSite[b.site]; !ok {
			perSite[b.site] = 0
		}
		backendUp.WithLabelValues(s.name, b.site, b.ID()).Set(up)
	}
	for site, n := range perSite {
		healthyBackends.WithLabelValues(s.name, site).Set(float64(n))
	}
}

func countTransition(s *service, b *backend, to healthcheck.State) {
	transitions.WithLabelValues(s.name, b.ID(), to.String()).Inc()
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
// and drops the series of services that were in old but are gone (or lost
// their limit), so a removed service does not linger on dashboards.
func setBudgetGauges(old, snap *snapshot) {
	present, limited := map[string]bool{}, map[string]bool{}
	for _, z := range snap.zones {
		for _, s := range z.services {
			present[s.name] = true
			failoverBudget.WithLabelValues(s.name).Set(s.failoverBound().Seconds())
			if s.budget > 0 {
				limited[s.name] = true
				failoverBudgetLimit.WithLabelValues(s.name).Set(s.budget.Seconds())
			}
		}
	}
	if old == nil {
		return
	}
	for _, z := range old.zones {
		for _, s := range z.services {
			if !present[s.name] {
				failoverBudget.DeleteLabelValues(s.name)
			}
			if !limited[s.name] {
				failoverBudgetLimit.DeleteLabelValues(s.name)
			}
		}
	}
}

// setOverrideGauges publishes which override holds for each backend of s and,
// for drained backends no answer of set hands out any more, drain_safe_at.
func setOverrideGauges(s *service, held []*Override, set *answerSet, d *drainTracker) {
	some := false
	for _, o := range held {
		some = some || o != nil
	}
	if !some && !s.overrideSeries {
		return // the common case: no override, no series to delete
	}
	s.overrideSeries = some
	for i, b := range s.backends {
		id := b.ID()
		for _, act := range []string{actDrain, actDown, actUp} {
			if held[i] != nil && held[i].Action == act {
				backendOverride.WithLabelValues(s.name, b.site, id, act).Set(1)
			} else {
				backendOverride.DeleteLabelValues(s.name, b.site, id, act)
			}
		}
		if held[i] != nil && held[i].Action == actDrain && !inAnswers(set, i) {
			drainSafeAt.WithLabelValues(s.name, b.site, id).Set(float64(d.safeAt(s, b).UnixMilli()) / 1000)
		} else {
			drainSafeAt.DeleteLabelValues(s.name, b.site, id)
		}
	}
}
