package hadns

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// Override actions: what an operator decided about the backends a selector
// matches, whatever the checker says.
const (
	actDrain = "drain" // out of answers on purpose; still probed, so its state stays known
	actDown  = "down"  // out of answers as if the checker had seen it die
	actUp    = "up"    // handed out even while the checker sees it down
)

// Override is one operator decision. Exactly one of Backend, Site and Glob
// selects the backends it holds for.
type Override struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	// Backend is a backend ID (127.0.1.1:8080), a bare address (every port
	// of it), or SERVICE/ID for one service's backend.
	Backend string `json:"backend,omitempty"`
	// Site is every backend of the site, in every service.
	Site string `json:"site,omitempty"`
	// Glob is a path.Match pattern over backend IDs, or over SERVICE/ID
	// when it holds a slash (service names without the final dot).
	Glob    string    `json:"glob,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Expires time.Time `json:"expires,omitzero"` // zero: until cleared
	By      string    `json:"by,omitempty"`     // who asked for it, as they said
	At      time.Time `json:"at"`               // when it was set
}

// selector is the part of an override that picks backends.
type selector struct {
	Backend, Site, Glob string
}

func (o *Override) selector() selector { return selector{o.Backend, o.Site, o.Glob} }

// String names the selector in logs and errors: backend 127.0.1.1:8080,
// site east, glob 127.0.1.*.
func (s selector) String() string {
	switch {
	case s.Backend != "":
		return "backend " + s.Backend
	case s.Site != "":
		return "site " + s.Site
	}
	return "glob " + s.Glob
}

// validate checks that exactly one field is set and the glob compiles. The
// error names the field, for the API's 400 answers.
func (s selector) validate() error {
	n := 0
	for _, v := range []string{s.Backend, s.Site, s.Glob} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("give exactly one of backend, site or glob (got %d)", n)
	}
	if s.Glob != "" {
		if _, err := path.Match(s.Glob, ""); err != nil {
			return fmt.Errorf("glob %q: %v", s.Glob, err)
		}
	}
	return nil
}

// specificity orders overlapping overrides: a backend's own override beats
// a glob, a glob beats a whole site, so "drain site east, but keep
// 127.0.1.1 up" does what it says.
func (s selector) specificity() int {
	switch {
	case s.Backend != "":
		return 3
	case s.Glob != "":
		return 2
	}
	return 1
}

// matches reports whether the selector picks backend b of service svc.
func (s selector) matches(svc string, b *backend) bool {
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
		return want == b.ID() || want == b.addr.String()
	case s.Site != "":
		return s.Site == b.site
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
func effective(list []Override, svc string, b *backend, now time.Time) *Override {
	var best *Override
	for i := range list {
		o := &list[i]
		if !o.Expires.IsZero() && !o.Expires.After(now) {
			continue
		}
		if !o.selector().matches(svc, b) {
			continue
		}
		if best == nil || o.selector().specificity() > best.selector().specificity() ||
			o.selector().specificity() == best.selector().specificity() && o.At.After(best.At) {
			best = o
		}
	}
	return best
}

// fold applies an override to the checker's view of a backend.
func fold(h Health, o *Override) Health {
	if o == nil {
		return h
	}
	switch o.Action {
	case actDrain:
		return Drained
	case actDown:
		return Down
	case actUp:
		return Healthy
	}
	return h
}

func validAction(a string) bool { return a == actDrain || a == actDown || a == actUp }

// describe is the override in one log line: who, what, why, until when.
func (o *Override) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (id %s", o.Action, o.selector(), o.ID)
	if o.By != "" {
		fmt.Fprintf(&b, ", by %s", logSafe(o.By))
	}
	if o.Reason != "" {
		fmt.Fprintf(&b, ", reason %q", o.Reason)
	}
	if o.Expires.IsZero() {
		b.WriteString(", no expiry)")
	} else {
		fmt.Fprintf(&b, ", expires %s)", o.Expires.UTC().Format(time.RFC3339))
	}
	return b.String()
}
