package zone

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/hadns/hadns/internal/fileerr"
)

// parseRecords reads the records block: ordinary zone-file text parsed by
// miekg/dns. The block is split into entries (one record each, parentheses
// joined) so every bad entry is reported with its own line, not only the
// first, and so later checks (CNAME conflicts, names outside the zone) can
// name the line of the record at fault.
func parseRecords(n *yaml.Node, origin string, ttl uint32, z *Zone, errs *fileerr.List) {
	if n.Kind != yaml.ScalarNode {
		errs.Addf(n.Line, "records is a block of zone-file text (use records: |)")
		return
	}
	// A literal or folded block starts on the line after its key; a plain or
	// quoted scalar on the key's own line.
	first := n.Line
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		first++
	}
	curOrigin, curTTL, lastOwner := origin, ttl, ""
	for _, e := range splitEntries(n.Value) {
		line := first + e.line
		fields := strings.Fields(e.text)
		switch strings.ToUpper(fields[0]) {
		case "$ORIGIN":
			if len(fields) != 2 || !ValidName(dns.Fqdn(fields[1])) {
				errs.Addf(line, "records: $ORIGIN takes one domain name")
				continue
			}
			o := absName(fields[1], curOrigin)
			if !dns.IsSubDomain(origin, o) {
				errs.Addf(line, "records: $ORIGIN %s is outside the zone %s", o, origin)
				continue
			}
			curOrigin = o
			continue
		case "$TTL":
			if len(fields) != 2 {
				errs.Addf(line, "records: $TTL takes one TTL (seconds, or with units like 1h)")
				continue
			}
			v, err := parseTTL(fields[1])
			if err != nil {
				errs.Addf(line, "records: $TTL %v", err)
				continue
			}
			curTTL = v
			continue
		case "$INCLUDE", "$GENERATE":
			errs.Addf(line, "records: %s is not supported", fields[0])
			continue
		}
		text := e.text
		if e.continued {
			if lastOwner == "" {
				errs.Addf(line, "records: a record that starts with blank space needs an owner on an earlier record")
				continue
			}
			text = lastOwner + " " + text
		}
		rr, err := parseRR(text, curOrigin, curTTL)
		if err != nil {
			errs.Addf(line, "records: %v", err)
			continue
		}
		if rr == nil {
			continue
		}
		if ttl := rr.Header().Ttl; ttl > maxTTL {
			errs.Addf(line, "records: TTL %d is above %d, the largest TTL (RFC 2181 §8)", ttl, maxTTL)
			continue
		}
		if owner := rr.Header().Name; !ValidName(owner) {
			w, _ := wireForm(owner)
			errs.Addf(line, "records: owner %s is never asked for as written: queries carry it as %s", owner, w)
			continue
		}
		lastOwner = rr.Header().Name
		z.insertStatic(rr, line, errs)
	}
}

// parseRR parses one record with the zone parser's defaults set.
func parseRR(text, origin string, ttl uint32) (dns.RR, error) {
	zp := dns.NewZoneParser(strings.NewReader(text+"\n"), origin, "")
	zp.SetDefaultTTL(ttl)
	zp.SetIncludeAllowed(false)
	rr, _ := zp.Next()
	if err := zp.Err(); err != nil {
		return nil, cleanParseError(err)
	}
	return rr, nil
}

var parseErrRe = regexp.MustCompile(`^dns: (.*) at line: \d+:\d+$`)

// cleanParseError drops miekg/dns's own line and column, which count from the
// entry, not the file.
func cleanParseError(err error) error {
	if m := parseErrRe.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s", m[1])
	}
	return err
}

// entry is one record's text and its line offset inside the block.
type entry struct {
	text      string
	line      int  // 0-based line of the entry's first line within the block
	continued bool // starts with blank space: the owner is the previous record's
}

// splitEntries splits zone-file text into records: comments (outside quotes)
// dropped, lines inside parentheses joined.
func splitEntries(s string) []entry {
	var out []entry
	var cur strings.Builder
	depth, start, startCont := 0, 0, false
	for i, line := range strings.Split(s, "\n") {
		line = stripComment(line)
		if depth == 0 {
			if strings.TrimSpace(line) == "" {
				continue
			}
			start = i
			startCont = line[0] == ' ' || line[0] == '\t'
			cur.Reset()
		}
		inQuote := false
		for j := 0; j < len(line); j++ {
			switch c := line[j]; {
			case c == '\\':
				j++
			case c == '"':
				inQuote = !inQuote
			case c == '(' && !inQuote:
				depth++
			case c == ')' && !inQuote && depth > 0:
				depth--
			}
		}
		cur.WriteString(line)
		cur.WriteByte(' ')
		if depth == 0 {
			out = append(out, entry{text: strings.TrimSpace(cur.String()), line: i, continued: startCont})
			out[len(out)-1].line = start
		}
	}
	if depth > 0 {
		out = append(out, entry{text: strings.TrimSpace(cur.String()), line: start, continued: startCont})
	}
	return out
}

// stripComment removes a ';' comment that is not inside quotes.
func stripComment(line string) string {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ';':
			if !inQuote {
				return line[:i]
			}
		}
	}
	return line
}
