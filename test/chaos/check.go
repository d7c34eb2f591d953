package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// forever ends an outage that has not ended, or an alive span that has not.
const forever = time.Duration(math.MaxInt64)

// answer is one query and its reply. Times are since the start of the run.
type answer struct {
	client   int    // index into the clients
	qtype    uint16 // A or SRV
	sent     time.Duration
	recv     time.Duration // when the reply (or the timeout) came
	rcode    int           // the reply's rcode; rcodeTimeout when none came
	backends uint64        // bit i set: backend i is in the answer
	unknown  int           // records naming no backend
}

const rcodeTimeout = -1

// outage is one backend down: killed at start, listening again at end
// (forever when never restarted).
type outage struct {
	backend    int
	start, end time.Duration
}

// rules are the bounds the answers must keep.
type rules struct {
	// deadBound: once a backend has been dead this long, no answer may hold
	// it (the check's detection bound + one interval).
	deadBound time.Duration
	// upBound: once a backend of the client's site has been alive this long,
	// every answer must hold a backend of that site (rise × interval + a
	// processing margin).
	upBound time.Duration
}

// violation is one answer that broke a rule.
type violation struct {
	kind string // "rcode", "timeout", "empty", "dead backend", "own site missing", "unknown record"
	a    answer
	what string
}

// result is what check found.
type result struct {
	checked    int
	violations []violation
	detections []time.Duration // per outage: kill → first covering answer without the backend
	returns    []time.Duration // per outage: listening again → first covering answer with the backend
	undetected []outage        // outages longer than deadBound with no covering answer without the backend
}

// check holds every answer against the rules. siteOf[i] is backend i's site;
// clientSite[c] is client c's site (-1: none). Outages of one backend must not
// overlap.
func check(siteOf []int, clientSite []int, outages []outage, answers []answer, r rules) result {
	var res result
	byBackend := make([][]outage, len(siteOf))
	for _, o := range outages {
		byBackend[o.backend] = append(byBackend[o.backend], o)
	}
	for i := range byBackend {
		slices.SortFunc(byBackend[i], func(a, b outage) int { return cmp.Compare(a.start, b.start) })
	}
	// Alive spans: between outages; the first one starts before the run.
	alive := make([][]outage, len(siteOf))
	for i, os := range byBackend {
		from := time.Duration(math.MinInt64)
		for _, o := range os {
			alive[i] = append(alive[i], outage{backend: i, start: from, end: o.start})
			from = o.end
		}
		if from != forever {
			alive[i] = append(alive[i], outage{backend: i, start: from, end: forever})
		}
	}
	siteMask := map[int]uint64{}
	for i, s := range siteOf {
		siteMask[s] |= 1 << i
	}

	sorted := slices.Clone(answers)
	slices.SortFunc(sorted, func(a, b answer) int { return cmp.Compare(a.sent, b.sent) })
	for _, a := range sorted {
		res.checked++
		switch {
		case a.rcode == rcodeTimeout:
			res.violations = append(res.violations, violation{"timeout", a, "no reply"})
			continue
		case a.rcode != dns.RcodeSuccess:
			res.violations = append(res.violations, violation{"rcode", a, dns.RcodeToString[a.rcode]})
			continue
		case a.backends == 0:
			res.violations = append(res.violations, violation{"empty", a, "no backend in the answer"})
			continue
		}
		if a.unknown > 0 {
			res.violations = append(res.violations, violation{"unknown record", a, fmt.Sprintf("%d records name no backend", a.unknown)})
		}
		// No backend dead for longer than deadBound, for the whole time the
		// server could have been answering (sent to recv).
		for i := range siteOf {
			if a.backends&(1<<i) == 0 {
				continue
			}
			for _, o := range byBackend[i] {
				if o.start+r.deadBound < a.sent && a.recv < o.end {
					res.violations = append(res.violations, violation{"dead backend", a,
						fmt.Sprintf("backend %d dead since %v (%v before the query)", i, ms(o.start), ms(a.sent-o.start))})
				}
			}
		}
		// The client's own site, when one of its backends has been alive
		// longer than upBound and stays alive until the reply.
		if s := clientSite[a.client]; s >= 0 && a.backends&siteMask[s] == 0 {
			if i, sp, ok := aliveLongEnough(siteOf, alive, s, a, r.upBound); ok {
				res.violations = append(res.violations, violation{"own site missing", a,
					fmt.Sprintf("site %d's backend %d alive since %s", s, i, since(sp.start))})
			}
		}
	}

	// Detection: the first answer sent after the kill that would hold the
	// backend if it were healthy (SRV holds every healthy backend; A holds
	// every healthy one of the client's site) and does not.
	for _, o := range outages {
		var found bool
		first, _ := slices.BinarySearchFunc(sorted, o.start, func(a answer, t time.Duration) int { return cmp.Compare(a.sent, t) })
		for _, a := range sorted[first:] {
			if a.rcode != dns.RcodeSuccess {
				continue
			}
			if a.recv >= o.end {
				break
			}
			covers := a.qtype == dns.TypeSRV || clientSite[a.client] == siteOf[o.backend]
			if covers && a.backends&(1<<o.backend) == 0 {
				res.detections = append(res.detections, a.recv-o.start)
				found = true
				break
			}
		}
		if !found && o.end != forever && o.end-o.start > r.deadBound {
			res.undetected = append(res.undetected, o)
		}
		// Return: the first covering answer sent after the restart that
		// holds the backend (none if it died again first).
		if o.end == forever {
			continue
		}
		again := forever
		for _, next := range byBackend[o.backend] {
			if next.start >= o.end {
				again = next.start
				break
			}
		}
		first, _ = slices.BinarySearchFunc(sorted, o.end, func(a answer, t time.Duration) int { return cmp.Compare(a.sent, t) })
		for _, a := range sorted[first:] {
			if a.sent >= again {
				break
			}
			covers := a.qtype == dns.TypeSRV || clientSite[a.client] == siteOf[o.backend]
			if a.rcode == dns.RcodeSuccess && covers && a.backends&(1<<o.backend) != 0 {
				res.returns = append(res.returns, a.recv-o.end)
				break
			}
		}
	}
	return res
}

// aliveLongEnough finds a backend of site whose alive span began more than
// upBound before a was sent (or before the run) and lasted until its reply.
func aliveLongEnough(siteOf []int, alive [][]outage, site int, a answer, upBound time.Duration) (int, outage, bool) {
	for i, s := range siteOf {
		if s != site {
			continue
		}
		for _, sp := range alive[i] {
			long := sp.start == time.Duration(math.MinInt64) || sp.start+upBound < a.sent
			if long && a.recv < sp.end {
				return i, sp, true
			}
		}
	}
	return 0, outage{}, false
}

func since(d time.Duration) string {
	if d == time.Duration(math.MinInt64) {
		return "the start"
	}
	return ms(d)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
}
