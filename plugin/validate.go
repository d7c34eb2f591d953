package hadns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/caddy/caddyfile"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/internal/fileerr"
)

// Validation is what ValidateCorefile found in a Corefile and its zone
// files.
type Validation struct {
	// Errors holds every problem found, each with its file and line: the
	// Corefile's first (by line), then the zone files'.
	Errors fileerr.ErrorList
	// Budgets holds the failover budget of every service of every hadns
	// block that loaded, in Corefile order, then by zone and service.
	Budgets []Budget
	// AnswerBytes estimates the memory the precomputed answers of every
	// service take, with every backend healthy (see answerBytes).
	AnswerBytes int64
}

// LargeAnswerBytes is the AnswerBytes from which `hadns check` reports it.
const LargeAnswerBytes = 256 << 20

// Budget is the worst case a client waits for a dead backend of a service
// to leave its answers and caches: detection + TTL.
type Budget struct {
	Server    string        // the server block, as CoreDNS names it (example.test.:1053)
	Service   string        // the service's name, absolute
	Detection time.Duration // the slowest backend's worst-case detection time
	TTL       time.Duration // the TTL of a healthy answer
	Limit     time.Duration // the zone file's failover_budget; 0 when it sets none
}

// Worst is the worst-case failover: Detection + TTL.
func (b Budget) Worst() time.Duration { return b.Detection + b.TTL }

// ValidateCorefile reads a Corefile with CoreDNS's own parser and validates
// every hadns block in it, and every zone file those name, with the same
// code the server runs at start-up: what `hadns check` reports (a
// configuration check, not a health check). It binds no socket and starts
// no health checker. Other plugins'
// directives are checked by name (and compiled in), not their arguments.
//
// The error is for a Corefile that cannot be read; problems in its content
// are in Validation.Errors.
func ValidateCorefile(corefile string) (Validation, error) {
	data, err := os.ReadFile(corefile)
	if err != nil {
		return Validation{}, err
	}
	var r Validation
	// No directive list: an unknown directive would stop caddy's parser at
	// the first one; validateBlock reports every one instead.
	blocks, err := caddyfile.Parse(corefile, bytes.NewReader(data), nil)
	if err != nil {
		r.Errors = append(r.Errors, corefileError(corefile, 0, err))
	}
	keyLines := serverBlockLines(corefile, data)
	var zoneErrs fileerr.ErrorList
	for i, sb := range blocks {
		line := 0
		if i < len(keyLines) {
			line = keyLines[i]
		}
		cerrs, zerrs, budgets, mem := validateBlock(corefile, line, sb)
		r.AnswerBytes += mem
		r.Errors = append(r.Errors, cerrs...)
		zoneErrs = append(zoneErrs, zerrs...)
		r.Budgets = append(r.Budgets, budgets...)
	}
	sort.SliceStable(r.Errors, func(i, j int) bool { return r.Errors[i].Line < r.Errors[j].Line })
	for _, e := range zoneErrs {
		// Zone files shared by several server blocks would repeat theirs.
		if !slices.Contains(r.Errors, e) {
			r.Errors = append(r.Errors, e)
		}
	}
	return r, nil
}

// validateBlock validates one server block as CoreDNS would set it up: its keys,
// its directives' names, and its hadns block with parse and load. It
// returns the Corefile's problems, the zone files' and the budgets.
func validateBlock(corefile string, keyLine int, sb caddyfile.ServerBlock) (cerrs, zerrs fileerr.ErrorList, budgets []Budget, mem int64) {
	// A controller over the dns server type's own context, as the server's
	// is, so that dnsserver.GetConfig (and the root directive) work.
	base := caddy.NewTestController("dns", "")
	blocks, err := base.Context().InspectServerBlocks(corefile, []caddyfile.ServerBlock{sb})
	if err != nil {
		return fileerr.ErrorList{{File: corefile, Line: keyLine, Msg: err.Error()}}, nil, nil, 0
	}
	sb = blocks[0]
	controller := func(dir string) *caddy.Controller {
		c := *base
		c.Dispenser = caddyfile.NewDispenserTokens(corefile, sb.Tokens[dir])
		c.Key = sb.Keys[0]
		c.ServerBlockKeys = sb.Keys
		return &c
	}
	valid := caddy.ValidDirectives("dns")
	for dir, toks := range sb.Tokens {
		if !slices.Contains(valid, dir) {
			cerrs = append(cerrs, tokenError(corefile, toks[0], fmt.Sprintf("Unknown directive '%s'", dir)))
		} else if _, err := caddy.DirectiveAction("dns", dir); err != nil {
			cerrs = append(cerrs, tokenError(corefile, toks[0], err.Error()))
		}
	}
	// root makes relative zone file names relative to it: run it first, as
	// the server does.
	if _, ok := sb.Tokens["root"]; ok {
		if setup, err := caddy.DirectiveAction("dns", "root"); err == nil {
			if err := setup(controller("root")); err != nil {
				cerrs = append(cerrs, corefileError(corefile, sb.Tokens["root"][0].Line, err))
			}
		}
	}
	toks, ok := sb.Tokens[pluginName]
	if !ok {
		return cerrs, nil, nil, 0
	}
	_, cfg, err := parse(controller(pluginName))
	var perrs parseErrors
	if errors.As(err, &perrs) {
		for _, e := range perrs {
			line := toks[0].Line
			if errors.Is(e, plugin.ErrOnce) {
				line = secondUse(toks)
			}
			cerrs = append(cerrs, corefileError(corefile, line, e))
		}
	} else if err != nil {
		cerrs = append(cerrs, corefileError(corefile, toks[0].Line, err))
	}
	if e := missingGeoPlugins(cfg, func(p string) bool { _, ok := sb.Tokens[p]; return ok }); e != nil {
		cerrs = append(cerrs, *e)
	}
	if len(cfg.files) == 0 && len(cfg.dirs) == 0 {
		return cerrs, nil, nil, 0
	}
	snap, err := load(cfg)
	var list fileerr.ErrorList
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			if e.File == "" { // a problem of the Corefile's site lines as a whole
				e.File, e.Line = corefile, toks[0].Line
			}
			if e.File == corefile {
				cerrs = append(cerrs, e)
			} else {
				zerrs = append(zerrs, e)
			}
		}
	case err != nil:
		cerrs = append(cerrs, fileerr.FileError{File: corefile, Line: toks[0].Line, Msg: err.Error()})
	}
	if snap == nil {
		return cerrs, zerrs, nil, 0
	}
	origins := make([]string, 0, len(snap.zones))
	for o := range snap.zones {
		origins = append(origins, o)
	}
	sort.Strings(origins)
	for _, o := range origins {
		for _, s := range snap.zones[o].Services() {
			budgets = append(budgets, Budget{
				Server:    sb.Keys[0],
				Service:   s.Name(),
				Detection: s.DetectionBound(),
				TTL:       time.Duration(s.TTL()) * time.Second,
				Limit:     s.Budget(),
			})
		}
	}
	return cerrs, zerrs, budgets, answerBytes(snap)
}

// answerBytes estimates the memory of snap's precomputed answers with every
// backend healthy, from their shape rather than by building them (a
// configuration too big to build must still be validated): for every site
// order, an A or AAAA answer keeps one packed reply per backend of its
// family (each max_answers records long) and a ring of records, and an SRV
// answer keeps its records and its packed reply. The constants are the
// sizes of the Go values involved on 64-bit platforms, rounded up.
func answerBytes(snap *snapshot) int64 {
	orders := int64(1)
	if snap.sites != nil {
		orders = int64(len(snap.sites.Orders()))
	}
	const (
		perReply  = 12 + 4 + 48 + 64 // header, question tail, wireAnswer, slice headers
		perRecord = 16 + 64          // interface value, record with its header
	)
	var total int64
	for _, z := range snap.zones {
		for _, s := range z.Services() {
			var fams [2]int64 // A, AAAA backends
			for _, b := range s.Backends() {
				if b.Family() == dns.TypeA {
					fams[0]++
				} else {
					fams[1]++
				}
			}
			for i, k := range fams {
				if k == 0 {
					continue
				}
				rdata := int64(16) // compressed owner, type, class, TTL, length, IPv4
				if i == 1 {
					rdata = 28
				}
				win := min(k, int64(s.MaxAnswers()))
				total += orders * (k*(perReply+int64(len(s.Name()))+win*rdata) + (k+win)*perRecord)
			}
			for _, o := range s.SRV() {
				total += orders * (perReply + int64(s.FullSRVSize(o)) + int64(len(s.Backends()))*2*perRecord)
			}
		}
	}
	return total
}

// caddyError matches the errors of caddy's Dispenser (Err, Errf, ArgErr,
// SyntaxErr), also when a plugin prefixed its name: "plugin/hadns:
// Corefile:3 - Error during parsing: unknown property "colour"".
var caddyError = regexp.MustCompile(`^(?:plugin/[^:]+: )?(.+):(\d+) - (?:Error during parsing: )?(.*)$`)

// corefileError turns a Corefile problem into file:line: message. Errors
// that do not carry a line get line, the directive's.
func corefileError(corefile string, line int, err error) fileerr.FileError {
	if m := caddyError.FindStringSubmatch(err.Error()); m != nil {
		if n, err := strconv.Atoi(m[2]); err == nil {
			return fileerr.FileError{File: m[1], Line: n, Msg: m[3]}
		}
	}
	return fileerr.FileError{File: corefile, Line: line, Msg: err.Error()}
}

func tokenError(corefile string, t caddyfile.Token, msg string) fileerr.FileError {
	if t.File != "" {
		corefile = t.File
	}
	return fileerr.FileError{File: corefile, Line: t.Line, Msg: msg}
}

// secondUse is the line of the second hadns directive in a server block's
// hadns tokens (they are all in one list), where plugin.ErrOnce belongs.
func secondUse(toks []caddyfile.Token) int {
	for _, t := range toks[1:] {
		if t.Text == pluginName && t.Line > toks[0].Line {
			return t.Line
		}
	}
	return toks[0].Line
}

// serverBlockLines returns the line of each server block's first key, in
// order: caddy's server blocks keep their keys but not where they were.
// Snippets, "(name) { ... }", are no server blocks and are left out.
func serverBlockLines(corefile string, data []byte) []int {
	d := caddyfile.NewDispenser(corefile, bytes.NewReader(data))
	var lines []int
	depth, atStart := 0, true
	for d.Next() {
		switch v := d.Val(); {
		case v == "{":
			depth++
		case v == "}":
			depth--
			atStart = depth == 0
		case depth == 0 && atStart:
			atStart = false
			if !(len(v) > 1 && v[0] == '(' && v[len(v)-1] == ')') && v != "import" {
				lines = append(lines, d.Line())
			}
		}
	}
	return lines
}
