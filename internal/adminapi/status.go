package adminapi

import "time"

// The JSON shapes of GET /v1/status. Field names are the API: hadns ctl and
// the status page read them, and scripts may.
type (
	// Status is the whole document: every zone served, every override.
	Status struct {
		Time      time.Time        `json:"time"`
		Ready     bool             `json:"ready"`
		Checker   CheckerStatus    `json:"checker"`
		Zones     []ZoneStatus     `json:"zones"`
		Overrides []OverrideStatus `json:"overrides"`
		// Store is the shared store's state; absent without a store.
		Store *StoreStatus `json:"store,omitempty"`
	}
	// StoreStatus is this instance's view of the nameserver set's etcd.
	StoreStatus struct {
		Instance    string            `json:"instance"`
		Endpoints   []string          `json:"endpoints"`
		Prefix      string            `json:"prefix"`
		Connected   bool              `json:"connected"`
		Revision    int64             `json:"revision"`
		LagSeconds  float64           `json:"lag_seconds"`
		LastContact time.Time         `json:"last_contact,omitzero"`
		LastError   string            `json:"last_error,omitempty"`
		Stale       bool              `json:"stale"` // serving the saved copy: etcd was unreachable at start
		Relists     int               `json:"relists"`
		Zones       int               `json:"zones"`
		Overrides   int               `json:"overrides"`
		Instances   []string          `json:"instances"` // live instances: a presence key, observations or served records
		Rejected    map[string]string `json:"rejected,omitempty"`
	}
	// CheckerStatus is the health checker's own trouble: probes it could
	// not make for a reason on this host (out of file descriptors, memory
	// or ports). The backends concerned keep their state meanwhile.
	CheckerStatus struct {
		LocalTroubleTargets int       `json:"local_trouble_targets"`
		LocalTroubleSince   time.Time `json:"local_trouble_since,omitzero"`
		LocalErrorsTotal    uint64    `json:"local_errors_total"`
		LastLocalError      string    `json:"last_local_error,omitempty"`
	}
	// ZoneStatus is one zone and its services.
	ZoneStatus struct {
		Zone     string          `json:"zone"`
		File     string          `json:"file"`
		Services []ServiceStatus `json:"services"`
	}
	// ServiceStatus is one service: its backends and what each site gets.
	ServiceStatus struct {
		Name        string             `json:"name"`
		TTL         uint32             `json:"ttl"`
		DegradedTTL uint32             `json:"degraded_ttl"`
		Failover    FailoverStatus     `json:"failover"`
		Sites       []string           `json:"sites"` // sites with a backend, in the default order
		Backends    []BackendStatus    `json:"backends"`
		Answers     []SiteAnswerStatus `json:"answers"`
	}
	// FailoverStatus is the worst case a client waits for a dead backend to
	// leave its cache (detection bound + TTL) beside the configured budget.
	FailoverStatus struct {
		BoundSeconds  float64 `json:"bound_seconds"`
		BudgetSeconds float64 `json:"budget_seconds,omitempty"` // 0: no failover_budget set
	}
	// BackendStatus is one backend as answers and the checker see it.
	BackendStatus struct {
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
		// SetDrainSafeAt is DrainSafeAt over the whole nameserver set (the
		// latest of every instance's record in the shared store, and this
		// instance's own); absent without a store, and while
		// SetDrainPending is set.
		SetDrainSafeAt *time.Time `json:"set_drain_safe_at,omitempty"`
		// SetDrainPending names the live instances of the set that have
		// not yet reported on this drain (they may still hand the backend
		// out); while it is set, SetDrainSafeAt is absent: no set-wide
		// time is known yet.
		SetDrainPending []string `json:"set_drain_pending,omitempty"`
		// DrainPending is true while a drained backend is still in some
		// answer (fail-open can keep it there).
		DrainPending bool `json:"drain_pending,omitempty"`
	}
	// SiteAnswerStatus is what the clients of one site get for a service.
	SiteAnswerStatus struct {
		Site string         `json:"site"` // the client's site; "default" for clients no network matches
		A    AnswerStatus   `json:"a"`
		AAAA AnswerStatus   `json:"aaaa"`
		SRV  []AnswerStatus `json:"srv,omitempty"`
	}
	// AnswerStatus is one precomputed answer.
	AnswerStatus struct {
		Owner      string      `json:"owner"`
		Result     string      `json:"result"` // success, nodata, servfail
		TTL        uint32      `json:"ttl,omitempty"`
		Addresses  []string    `json:"addresses,omitempty"`
		Targets    []SRVStatus `json:"targets,omitempty"`
		Degraded   string      `json:"degraded,omitempty"`
		ServedSite string      `json:"served_site,omitempty"`
	}
	// SRVStatus is one SRV target of an answer.
	SRVStatus struct {
		Priority uint16 `json:"priority"`
		Weight   uint16 `json:"weight"`
		Port     uint16 `json:"port"`
		Target   string `json:"target"`
	}
	// OverrideStatus is an override and what it selects now.
	OverrideStatus struct {
		Override
		Matched []string `json:"matched"` // SERVICE/ID of every backend it selects now
		// Unmatched is true when it selects no backend of the current
		// zones: kept, since the backend may come back with a reload.
		Unmatched bool `json:"unmatched"`
		// Effective is false when a more specific override wins everywhere.
		Effective bool `json:"effective"`
	}
)
