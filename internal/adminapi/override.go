package adminapi

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Override actions: what an operator decided about the backends a selector
// matches, whatever the checker says.
const (
	ActionDrain = "drain" // out of answers on purpose; still probed, so its state stays known
	ActionDown  = "down"  // out of answers as if the checker had seen it die
	ActionUp    = "up"    // handed out even while the checker sees it down
)

// ValidAction reports whether a is an action an override can hold (clear
// and undrain are requests, not overrides).
func ValidAction(a string) bool { return a == ActionDrain || a == ActionDown || a == ActionUp }

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

// Selector is the part of an override that picks backends.
type Selector struct {
	Backend, Site, Glob string
}

// Selector returns the part of o that picks backends.
func (o *Override) Selector() Selector { return Selector{o.Backend, o.Site, o.Glob} }

// String names the selector in logs and errors: backend 127.0.1.1:8080,
// site east, glob 127.0.1.*.
func (s Selector) String() string {
	switch {
	case s.Backend != "":
		return "backend " + s.Backend
	case s.Site != "":
		return "site " + s.Site
	}
	return "glob " + s.Glob
}

// Validate checks that exactly one field is set and the glob compiles. The
// error names the field, for the API's 400 answers.
func (s Selector) Validate() error {
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

// Specificity orders overlapping overrides: a backend's own override beats
// a glob, a glob beats a whole site, so "drain site east, but keep
// 127.0.1.1 up" does what it says.
func (s Selector) Specificity() int {
	switch {
	case s.Backend != "":
		return 3
	case s.Glob != "":
		return 2
	}
	return 1
}

// Describe is the override in one log line: who, what, why, until when.
func (o *Override) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (id %s", o.Action, o.Selector(), o.ID)
	if o.By != "" {
		fmt.Fprintf(&b, ", by %s", LogSafe(o.By))
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

// IsControl reports control characters (line breaks, escapes, DEL, and
// the Unicode line and paragraph separators) that must not reach a log line.
func IsControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

// LogSafe returns s for a log line: as it is when it is plain text, quoted
// (escaping line breaks and other control characters) when it is not, so a
// value from a request or a state file cannot forge log lines.
func LogSafe(s string) string {
	if strings.IndexFunc(s, IsControl) < 0 {
		return s
	}
	return strconv.Quote(s)
}
