package hadns

import (
	"github.com/hadns/hadns/healthcheck"

	"github.com/hadns/hadns/internal/zone"
)

// Observation words in the shared store.
const (
	obsUp   = "up"
	obsDown = "down"
)

// observationOf is the word this instance publishes for a checker state;
// "" for a target not yet checked, which has no opinion.
func observationOf(st healthcheck.State) string {
	switch st {
	case healthcheck.Up, healthcheck.Suspect:
		return obsUp
	case healthcheck.Down:
		return obsDown
	}
	return ""
}

// quorumVerdict decides a backend's health for a `health: quorum N` service
// from this instance's own state and the views of the peers that have one
// (instances whose lease ran out have none: silence is no opinion, never
// "down"). The backend is down when at least n of the views, this
// instance's included, say down; when no peer has a view, the instance's
// own state stands. A cut-off instance that alone sees a healthy backend
// down therefore keeps handing it out, and one that alone sees it up does
// not keep it alive for everyone either once n others agree.
func quorumVerdict(own healthcheck.State, peers []string, n int) zone.Health {
	if len(peers) == 0 {
		return fromState(own)
	}
	down := 0
	if own == healthcheck.Down {
		down++
	}
	for _, p := range peers {
		if p == obsDown {
			down++
		}
	}
	if down >= n {
		return zone.Down
	}
	if own == healthcheck.Down {
		return zone.Healthy // the set says up: this instance's view alone does not count
	}
	return fromState(own)
}

// backendHealth is the health answers use for backend b of service s,
// before overrides: the local checker's, or with `health: quorum N` and a
// reachable store, the set's verdict. While etcd is unreachable (or only
// the saved copy is known) every service falls back to local health: the
// peers' views may be old.
func (e *engine) backendHealth(s *zone.Service, b *zone.Backend) zone.Health {
	own := e.checker.State(b.Check().Key())
	if s.Quorum() == 0 || e.st.set == nil {
		return fromState(own)
	}
	v := e.st.set.view.Load()
	if !v.connected || v.snap.Stale {
		return fromState(own)
	}
	key := viewKey(*b.Check())
	self := e.st.set.instance()
	var peers []string
	for inst, m := range v.snap.Observations {
		if inst == self {
			continue
		}
		if o, ok := m[key]; ok && (o.State == obsUp || o.State == obsDown) {
			peers = append(peers, o.State)
		}
	}
	return quorumVerdict(own, peers, s.Quorum())
}
