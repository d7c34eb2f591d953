package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/ops"
)

// maxBody bounds a request body: an override is a few hundred bytes.
const maxBody = 64 << 10

// routes builds the API's handler: every route is registered here, behind
// the Host check (all) and the token (guard: every route but the page).
func (a *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// The page itself holds no data: it loads from anywhere and asks for
	// the token when a read needs it.
	mux.HandleFunc("GET /{$}", servePage)
	mux.HandleFunc("GET /v1/status", a.guard(false, a.getStatus))
	mux.HandleFunc("GET /v1/overrides", a.guard(false, a.getOverrides))
	mux.HandleFunc("POST /v1/overrides", a.guard(true, a.postOverride))
	mux.HandleFunc("DELETE /v1/overrides/{id}", a.guard(true, a.deleteOverride))
	mux.HandleFunc("GET /v1/store", a.guard(false, a.getStore))
	mux.HandleFunc("GET /v1/zones/{origin}", a.guard(false, a.getZone))
	mux.HandleFunc("PUT /v1/zones/{origin}", a.guard(true, a.putZone))
	mux.HandleFunc("DELETE /v1/zones/{origin}", a.guard(true, a.deleteZone))
	mux.HandleFunc("POST /v1/registrations", a.guard(true, a.postRegistration))
	mux.HandleFunc("DELETE /v1/registrations/{service}/{backend}", a.guard(true, a.deleteRegistration))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.checkHost(r); err != nil {
			refuseUnread(w, r)
			writeErr(w, http.StatusMisdirectedRequest, err.Error())
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			// The mux answers unknown routes (404) and wrong methods (405)
			// in plain text; the API speaks JSON.
			w = &jsonErrorWriter{ResponseWriter: w, r: r}
		}
		mux.ServeHTTP(w, r)
	})
}

// jsonErrorWriter turns the mux's own plain-text errors into JSON ones.
type jsonErrorWriter struct {
	http.ResponseWriter
	r       *http.Request
	written bool
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	msg := fmt.Sprintf("no route %s %s", w.r.Method, w.r.URL.Path)
	if code == http.StatusMethodNotAllowed {
		msg = fmt.Sprintf("%s %s: method not allowed (allowed: %s)", w.r.Method, w.r.URL.Path, w.Header().Get("Allow"))
	}
	w.Header().Del("X-Content-Type-Options")
	writeErr(w.ResponseWriter, code, msg)
	w.written = true
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusNotFound)
	}
	return len(b), nil // the mux's text is replaced by the JSON above
}

// guard checks the token before h runs; change marks routes that change
// state.
func (a *Server) guard(change bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, cfg := a.current()
		if code, err := authorize(r, cfg, change); err != nil {
			refuseUnread(w, r)
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hadns"`)
			}
			writeErr(w, code, err.Error())
			return
		}
		h(w, r)
	}
}

// refuseUnread prepares the refusal of a request on its headers alone: its
// body is never read, and its connection is closed after the reply rather
// than drained for a next request (net/http reads up to 256 KiB of an
// unread body to reuse the connection), so a stranger's slow body holds
// nothing.
func refuseUnread(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	if r.ContentLength != 0 {
		// A read deadline in the past makes that drain fail at once.
		_ = http.NewResponseController(w).SetReadDeadline(time.Unix(1, 0))
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (a *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	c := a.cachedStatus()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Accept-Encoding")
	body := c.body
	if c.gzipped != nil && acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		body = c.gzipped
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func (a *Server) getOverrides(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"overrides": a.cachedStatus().overrides})
}

func (a *Server) postOverride(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	var req adminapi.OverrideRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", maxBody))
			return
		}
		writeErr(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if err := decodeStrict(body, &req); err != nil {
		writeErr(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	engines, _ := a.current()
	now := a.clock.Now()
	o, err := req.Parse(now)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	if o.By == "" {
		o.By = clientName(r)
	}
	stores := storesOf(engines)
	switch req.Action {
	case "clear", "undrain":
		only := ""
		if req.Action == "undrain" {
			only = adminapi.ActionDrain
		}
		var cleared []adminapi.Override
		for _, s := range stores {
			gone, err := s.Clear(o.Selector(), only, o.By)
			if errors.Is(err, ops.ErrNoMatch) {
				continue
			}
			if err != nil {
				writeErr(w, http.StatusInternalServerError, err.Error())
				return
			}
			cleared = append(cleared, gone...)
		}
		if len(cleared) == 0 {
			what := "override"
			if only != "" {
				what = only + " override"
			}
			writeErr(w, http.StatusNotFound, fmt.Sprintf("no %s on %s", what, o.Selector()))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"cleared": cleared})
		return
	}
	matched := matchBackends(engines, o.Selector())
	if len(matched) == 0 {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("%s matches no backend of the served zones", o.Selector()))
		return
	}
	var stored adminapi.Override
	var replaced *adminapi.Override
	for i, s := range stores {
		got, rep, err := s.Set(o)
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err.Error())
			return
		}
		if i == 0 {
			stored, replaced = got, rep
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"override": stored, "replaced": replaced, "matched": matched})
}

func (a *Server) deleteOverride(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	engines, _ := a.current()
	id := r.PathValue("id")
	var cleared []adminapi.Override
	for _, s := range storesOf(engines) {
		gone, err := s.Delete(id, clientName(r))
		if errors.Is(err, ops.ErrNoMatch) {
			continue
		}
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err.Error())
			return
		}
		cleared = append(cleared, gone...)
	}
	if len(cleared) == 0 {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no override with id %q", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cleared": cleared})
}

// storesOf returns the distinct override stores of engines, newest first.
func storesOf(engines []Engine) []OverrideStore {
	var out []OverrideStore
	for i := len(engines) - 1; i >= 0; i-- {
		s := engines[i].Store()
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// matchBackends lists SERVICE/ID of every backend sel picks in the zones the
// engines serve now, each once.
func matchBackends(engines []Engine, sel adminapi.Selector) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range engines {
		for _, k := range e.Match(sel) {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// clientName names a request's client when it did not say who it is.
func clientName(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return "client " + ap.Addr().Unmap().String()
	}
	return "client " + r.RemoteAddr
}
