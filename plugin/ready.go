package hadns

import "time"

// localTroubleLimit is how long the health checker may be unable to probe
// for a reason on this host (out of file descriptors, memory or ports; see
// healthcheck.IsLocal) before the server reports not ready. Backend states
// are held meanwhile, so answers go on, but they are no longer verified.
const localTroubleLimit = 30 * time.Second

// Ready implements CoreDNS's ready.Readiness: true once every health target
// has a first result, or the start-up timeout has passed; false again while
// some target's probes have failed locally for localTroubleLimit or longer
// (seen by the ready plugin with `monitor continuously`).
func (h *Hadns) Ready() bool {
	if !h.ready.Load() {
		return false
	}
	p := h.pool.Load()
	if p == nil {
		return true
	}
	lt := p.trouble()
	return lt.Targets == 0 || p.ops.clock.Now().Sub(lt.Since) < localTroubleLimit
}
