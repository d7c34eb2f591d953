package hadns

import (
	"path"
	"strings"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/zone"
)

// matches reports whether selector s picks backend b of service svc.
func matches(s adminapi.Selector, svc string, b *zone.Backend) bool {
	name := strings.TrimSuffix(svc, ".")
	switch {
	case s.Backend != "":
		want := s.Backend
		if i := strings.LastIndexByte(want, '/'); i >= 0 {
			if !strings.EqualFold(strings.TrimSuffix(want[:i], "."), name) {
				return false
			}
			want = want[i+1:]
		}
		return want == b.ID() || want == b.Addr().String()
	case s.Site != "":
		return s.Site == b.Site()
	case s.Glob != "":
		subject := b.ID()
		if strings.Contains(s.Glob, "/") {
			subject = name + "/" + subject
		}
		ok, _ := path.Match(s.Glob, subject)
		return ok
	}
	return false
}

// effective returns the override that holds for backend b of service svc
// at now: the most specific, then the most recent. nil when none does.
func effective(list []adminapi.Override, svc string, b *zone.Backend, now time.Time) *adminapi.Override {
	var best *adminapi.Override
	for i := range list {
		o := &list[i]
		if !o.Expires.IsZero() && !o.Expires.After(now) {
			continue
		}
		if !matches(o.Selector(), svc, b) {
			continue
		}
		if best == nil || o.Selector().Specificity() > best.Selector().Specificity() ||
			o.Selector().Specificity() == best.Selector().Specificity() && o.At.After(best.At) {
			best = o
		}
	}
	return best
}

// fold applies an override to the checker's view of a backend.
func fold(h zone.Health, o *adminapi.Override) zone.Health {
	if o == nil {
		return h
	}
	switch o.Action {
	case adminapi.ActionDrain:
		return zone.Drained
	case adminapi.ActionDown:
		return zone.Down
	case adminapi.ActionUp:
		return zone.Healthy
	}
	return h
}
