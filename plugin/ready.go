package hadns

// Ready implements CoreDNS's ready.Readiness: true once every health target
// has a first result, or the start-up timeout has passed.
func (h *Hadns) Ready() bool { return h.ready.Load() }
