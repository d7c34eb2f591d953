package admin

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
)

// decodeStrict decodes one JSON object from body into v: unknown fields,
// a key given twice (encoding/json would keep the last one silently) and
// anything after the object are errors that name the problem.
func decodeStrict(body []byte, v any) error {
	if err := noDuplicateKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON object at byte %d", dec.InputOffset())
	}
	return nil
}

// noDuplicateKeys walks the tokens of body and fails on an object that
// names a key twice (keys compared as encoding/json matches fields: without
// regard to case).
func noDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string token in this object is a key
	}
	var stack []*frame
	for range len(body) + 1 { // at most one token per byte
		tok, err := dec.Token()
		if err == io.EOF || (err == nil && len(stack) == 0 && tok != json.Delim('{') && tok != json.Delim('[')) {
			return nil // a scalar at the top, or the end: Decode judges it
		}
		if err != nil {
			return nil // a syntax error: Decode reports it with its place
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if name, ok := tok.(string); ok && top != nil && top.object && top.key {
			k := strings.ToLower(name)
			if top.keys[k] {
				return fmt.Errorf("key %q given twice (before byte %d)", tok, dec.InputOffset())
			}
			top.keys[k] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return nil
			}
		}
		// A value ended: in an object, a key comes next.
		if t := stack[len(stack)-1]; t.object {
			t.key = true
		}
	}
	return nil
}

// checkHost refuses a request whose Host header does not name this server,
// so that a web page that rebinds its own name to a loopback address (DNS
// rebinding) cannot read the API from a browser on this host. Allowed: an
// IP address literal (the browser then knows it talks to that address, not
// to a name an attacker controls), localhost, and the names given with
// admin_hosts or in the admin address itself. The port is not checked: a
// tunnel (ssh -L 9000:127.0.0.1:8053) changes it, and rebinding does not
// need it.
func (a *Server) checkHost(r *http.Request) error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")), ".")
	if host == "" {
		return errors.New("request without a Host header: name the server by its address, localhost, or a name listed with admin_hosts")
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	_, cfg := a.current()
	if own, _, err := net.SplitHostPort(cfg.Addr); err == nil && strings.EqualFold(strings.TrimSuffix(own, "."), host) {
		return nil
	}
	if slices.Contains(cfg.Hosts, host) {
		return nil
	}
	return fmt.Errorf("Host %q is not a name of this admin server: use its address, localhost, or a name listed with admin_hosts", r.Host)
}

// statusMaxAge is how long a built /v1/status document is served to every
// poller before the next request builds a new one; on zones so large that a
// build takes longer than statusMaxAge/statusCostFactor, it is
// statusCostFactor times the last build's duration instead. Building it
// walks every backend and answer of every zone: on 20,000 services that is
// a second or two of CPU, which pollers must neither multiply nor repeat
// back to back (the DNS server shares the cores). So however many poll, the
// builds take at most about 1/statusCostFactor of one core. Overrides set
// or cleared through the API are seen at once (they drop the cached copy).
const (
	statusMaxAge     = time.Second
	statusCostFactor = 4
)

// statusCache is the last built status document.
type statusCache struct {
	at        time.Time
	gen       uint64        // of the changes made through the API
	cost      time.Duration // how long the build took
	body      []byte
	gzipped   []byte // body, gzip-compressed: nil if compressing failed
	overrides []adminapi.OverrideStatus
}

// cachedStatus returns the status document, building it when the cached
// one is older than statusMaxAge or an override changed since. One request
// builds it; concurrent ones wait for it and share it.
func (a *Server) cachedStatus() *statusCache {
	a.statusMu.Lock()
	defer a.statusMu.Unlock()
	now := a.clock.Now()
	gen := a.statusGen.Load()
	if c := a.status; c != nil && c.gen == gen && now.Sub(c.at) < max(statusMaxAge, statusCostFactor*c.cost) && !now.Before(c.at) {
		return c
	}
	start := time.Now()
	engines, _ := a.current()
	doc := Status(engines, now)
	body, err := json.Marshal(doc)
	if err != nil {
		body = []byte(`{"error":` + fmt.Sprintf("%q", "status: "+err.Error()) + `}`)
	}
	body = append(body, '\n')
	a.status = &statusCache{at: now, gen: gen, body: body, gzipped: gzipBytes(body), overrides: doc.Overrides}
	a.status.cost = time.Since(start)
	return a.status
}

// gzipBytes compresses b, fast rather than small: status JSON shrinks
// about tenfold even so, and sending it is what pollers of a big zone
// cost the server once the document is cached.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil
	}
	if _, err := zw.Write(b); err != nil {
		return nil
	}
	if err := zw.Close(); err != nil {
		return nil
	}
	return buf.Bytes()
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(enc), ";")
			if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0" {
				return true
			}
		}
	}
	return false
}

// invalidateStatus makes the next status request build a new document.
func (a *Server) invalidateStatus() { a.statusGen.Add(1) }
