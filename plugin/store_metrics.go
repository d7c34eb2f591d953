package hadns

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/hadns/hadns/internal/store"
)

// Metrics of the shared store, under coredns_hadns_store_*; absent (never
// set) without a `store` line.
var (
	storeConnected = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "store_connected",
		Help: "1 while the shared store's etcd watch is established and answering; 0 while answers come from the last known good data.",
	})
	storeRevision = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "store_revision",
		Help: "The etcd revision of the shared store data this instance applies.",
	})
	storeLag = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "store_lag_seconds",
		Help: "Seconds since etcd last answered this instance's watch.",
	})
	storeStale = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "store_stale",
		Help: "1 while the store data served is the copy saved on disk (etcd was unreachable at start).",
	})
	storeRejectedNow = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "store_rejected_values",
		Help: "Values in the shared store this instance refuses now (a zone that does not load, JSON that does not parse).",
	})
	storeRejected = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace, Subsystem: pluginName, Name: "store_rejected_total",
		Help: "Store values refused, by kind: store (refused as it arrived), zone (does not fit this server's Corefile), registration (does not fit its service).",
	}, []string{"kind"})
)

// setStoreGauges publishes the store's connection state.
func setStoreGauges(s store.Status) {
	storeConnected.Set(b2f(s.Connected))
	storeRevision.Set(float64(s.Revision))
	storeLag.Set(s.Lag.Seconds())
	storeStale.Set(b2f(s.Stale))
	storeRejectedNow.Set(float64(s.Rejected))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
