package healthcheck

import (
	"fmt"
	"strconv"
	"strings"
)

// statusRange is an inclusive range of HTTP status codes.
type statusRange struct{ lo, hi int }

// statusSet is a parsed Spec.Status: a handful of ranges, checked linearly
// (a map would be slower for the usual one or two entries).
type statusSet []statusRange

func (s statusSet) has(code int) bool {
	for _, r := range s {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

// parseStatus parses entries like "200-399" and "204".
func parseStatus(entries []string) (statusSet, error) {
	set := make(statusSet, 0, len(entries))
	for _, e := range entries {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(e), "-")
		l, err1 := strconv.Atoi(strings.TrimSpace(lo))
		h := l
		var err2 error
		if isRange {
			h, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
			return nil, fmt.Errorf("bad status %q: want a code or a range like 200-399, within 100-599", e)
		}
		set = append(set, statusRange{l, h})
	}
	return set, nil
}
