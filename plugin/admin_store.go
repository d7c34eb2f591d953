package hadns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/hadns/hadns/internal/store"
	"github.com/hadns/hadns/internal/zone"
)

// maxZoneBody bounds a pushed zone document.
const maxZoneBody = 16 << 20

// storeRoutes adds the shared store's routes: zones pushed to, read from
// and deleted from etcd, registrations, and the store's status. Without a
// `store` line they answer 404 saying so.
func (a *adminServer) storeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/store", a.guard(false, a.getStore))
	mux.HandleFunc("GET /v1/zones/{origin}", a.guard(false, a.getZone))
	mux.HandleFunc("PUT /v1/zones/{origin}", a.guard(true, a.putZone))
	mux.HandleFunc("DELETE /v1/zones/{origin}", a.guard(true, a.deleteZone))
	mux.HandleFunc("POST /v1/registrations", a.guard(true, a.postRegistration))
	mux.HandleFunc("DELETE /v1/registrations/{service}/{backend}", a.guard(true, a.deleteRegistration))
}

// storeOf returns the running store of the newest engine, or writes the
// error answer and returns nil.
func (a *adminServer) storeOf(w http.ResponseWriter) *store.Store {
	engines, _ := a.current()
	sets := setsOf(engines)
	if len(sets) == 0 {
		writeErr(w, http.StatusNotFound, "no shared store: add `store etcd ENDPOINT...` to the hadns block")
		return nil
	}
	st, err := sets[len(sets)-1].client()
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return nil
	}
	return st
}

func storeCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), storeWriteTimeout)
}

func (a *adminServer) getStore(w http.ResponseWriter, _ *http.Request) {
	engines, _ := a.current()
	s := storeStatus(engines)
	if s == nil {
		writeErr(w, http.StatusNotFound, "no shared store: add `store etcd ENDPOINT...` to the hadns block")
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *adminServer) getZone(w http.ResponseWriter, r *http.Request) {
	st := a.storeOf(w)
	if st == nil {
		return
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	origin := store.CanonicalOrigin(r.PathValue("origin"))
	doc, ok, err := st.GetZone(ctx, origin)
	switch {
	case err != nil:
		writeErr(w, http.StatusServiceUnavailable, err.Error())
	case !ok:
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no zone %s in the store", origin))
	default:
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		w.Write(doc)
	}
}

// putZone writes a zone document after the same validation `hadns check`
// does (the store's validator), so nothing invalid reaches etcd.
func (a *adminServer) putZone(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	st := a.storeOf(w)
	if st == nil {
		return
	}
	doc, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxZoneBody))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	origin := store.CanonicalOrigin(r.PathValue("origin"))
	rev, err := st.PutZone(ctx, origin, doc)
	if errors.Is(err, store.ErrInvalidZone) {
		writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	log.Infof("store: zone %s pushed by %s (revision %d)", origin, clientName(r), rev)
	writeJSON(w, http.StatusOK, map[string]any{"zone": origin, "revision": rev})
}

func (a *adminServer) deleteZone(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	st := a.storeOf(w)
	if st == nil {
		return
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	origin := store.CanonicalOrigin(r.PathValue("origin"))
	if _, ok, err := st.GetZone(ctx, origin); err == nil && !ok {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no zone %s in the store", origin))
		return
	}
	if err := st.DeleteZone(ctx, origin); err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	log.Infof("store: zone %s deleted by %s", origin, clientName(r))
	writeJSON(w, http.StatusOK, map[string]any{"deleted": origin})
}

// RegistrationRequest is the body of POST /v1/registrations: a backend
// that joins a service for TTLSeconds unless renewed by posting again.
type RegistrationRequest struct {
	Service    string  `json:"service"` // the service's name, e.g. api.example.test
	Address    string  `json:"address"`
	Port       uint16  `json:"port,omitempty"`
	Site       string  `json:"site"`
	Weight     *uint16 `json:"weight,omitempty"`
	Hostname   string  `json:"hostname,omitempty"`
	TTLSeconds int     `json:"ttl_seconds,omitempty"` // default 10
}

// defaultRegistrationTTL is a registration's lease when the request names none.
const defaultRegistrationTTL = 10 * time.Second

// registrationBackend is a registration's key name: address or address:port.
func registrationBackend(addr netip.Addr, port uint16) string {
	if port == 0 {
		return addr.String()
	}
	return netip.AddrPortFrom(addr, port).String()
}

func (a *adminServer) postRegistration(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	st := a.storeOf(w)
	if st == nil {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	var req RegistrationRequest
	if err := decodeStrict(body, &req); err != nil {
		writeErr(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	addr, err := zone.ValidAddr(req.Address)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Service == "" || req.Site == "" {
		writeErr(w, http.StatusBadRequest, "service and site are required")
		return
	}
	if !validSiteName(req.Site) {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("site %q: use letters, digits, - and _", req.Site))
		return
	}
	ttl := defaultRegistrationTTL
	if req.TTLSeconds != 0 {
		if req.TTLSeconds < 1 || req.TTLSeconds > 86400 {
			writeErr(w, http.StatusBadRequest, "ttl_seconds: from 1 to 86400")
			return
		}
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	svc := store.CanonicalOrigin(req.Service)
	if !zone.ValidName(svc) {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("service %q is not a domain name", req.Service))
		return
	}
	id := registrationBackend(addr, req.Port)
	ctx, cancel := storeCtx(r)
	defer cancel()
	reg := store.Registration{Address: addr.String(), Port: req.Port, Site: req.Site, Weight: req.Weight, Hostname: req.Hostname}
	if err := st.RegisterLease(ctx, svc, id, reg, ttl); err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": svc, "backend": id, "ttl_seconds": int(ttl / time.Second)})
}

func (a *adminServer) deleteRegistration(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	st := a.storeOf(w)
	if st == nil {
		return
	}
	ctx, cancel := storeCtx(r)
	defer cancel()
	svc := store.CanonicalOrigin(r.PathValue("service"))
	id := r.PathValue("backend")
	if err := st.Deregister(ctx, svc, id); err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	log.Infof("store: %s/%s deregistered by %s", svc, id, clientName(r))
	writeJSON(w, http.StatusOK, map[string]any{"deregistered": svc + "/" + id})
}
