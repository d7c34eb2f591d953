package adminapi

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// OverrideRequest is the body of POST /v1/overrides. Empty fields are left
// out when it is sent: the server reads a missing field as an empty one.
type OverrideRequest struct {
	Action  string `json:"action,omitempty"` // drain, down, up, clear, undrain
	Backend string `json:"backend,omitempty"`
	Site    string `json:"site,omitempty"`
	Glob    string `json:"glob,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Expires string `json:"expires,omitempty"` // a duration from now (30m) or an RFC 3339 time
	By      string `json:"by,omitempty"`      // who asks, for the log and the status
}

// Change is the answer to POST /v1/overrides: the override set (with the
// one it replaced, if any, and the SERVICE/ID of every backend it matched),
// or the overrides a clear or undrain removed.
type Change struct {
	Override *Override  `json:"override,omitempty"`
	Replaced *Override  `json:"replaced,omitempty"`
	Matched  []string   `json:"matched,omitempty"`
	Cleared  []Override `json:"cleared,omitempty"`
}

// Error is the body of every answer with a status of 400 or more.
type Error struct {
	Error string `json:"error"`
}

// BadRequest is a 400 whose message names the field at fault.
type BadRequest struct{ Field, Msg string }

func (b BadRequest) Error() string { return b.Field + ": " + b.Msg }

// Parse checks the request and returns the override it asks for; errors are
// BadRequest. now is the time a relative expiry counts from.
func (req *OverrideRequest) Parse(now time.Time) (Override, error) {
	o := Override{Action: req.Action, Backend: req.Backend, Site: req.Site, Glob: req.Glob, Reason: req.Reason, By: req.By}
	switch req.Action {
	case ActionDrain, ActionDown, ActionUp, "clear", "undrain":
	case "":
		return o, BadRequest{"action", "missing: drain, down, up, clear or undrain"}
	default:
		return o, BadRequest{"action", fmt.Sprintf("%q is not drain, down, up, clear or undrain", req.Action)}
	}
	if err := o.Selector().Validate(); err != nil {
		field := "backend"
		if req.Glob != "" {
			field = "glob"
		}
		return o, BadRequest{field, err.Error()}
	}
	if req.Expires != "" {
		if req.Action == "clear" || req.Action == "undrain" {
			return o, BadRequest{"expires", "only drain, down and up take an expiry"}
		}
		t, err := parseExpiry(req.Expires, now)
		if err != nil {
			return o, BadRequest{"expires", err.Error()}
		}
		o.Expires = t
	}
	if len(req.Reason) > 1000 || len(req.By) > 200 {
		return o, BadRequest{"reason", "reason (1000) or by (200 bytes) is too long"}
	}
	// Both go to the log: a line break in them would forge log lines.
	for _, f := range []struct{ name, val string }{{"by", req.By}, {"reason", req.Reason}} {
		if i := strings.IndexFunc(f.val, IsControl); i >= 0 {
			c, _ := utf8.DecodeRuneInString(f.val[i:])
			return o, BadRequest{f.name, fmt.Sprintf("control character %q at byte %d: use plain text on one line", c, i)}
		}
	}
	return o, nil
}

// parseExpiry reads a duration from now (30m, 2h) or an RFC 3339 time; both
// must lie in the future.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q is not in the future", s)
		}
		return now.Add(d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration like 30m nor an RFC 3339 time like 2026-05-01T12:00:00Z", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%s is in the past", s)
	}
	return t.UTC(), nil
}
