package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
	"github.com/hadns/hadns/internal/store"
)

// The shared store's routes: zones pushed to, read from and deleted from
// etcd, registrations, and the store's status. Without a `store` line they
// answer 404 saying so.

// maxZoneBody bounds a pushed zone document.
const maxZoneBody = 16 << 20

// noStore is the 404 answer of the store's routes without a shared store.
const noStore = "no shared store: add `store etcd ENDPOINT...` to the hadns block"

// storeOf returns the running shared store of the newest engine, or writes
// the error answer and returns nil.
func (a *Server) storeOf(w http.ResponseWriter) (SharedStore, StoreClient) {
	engines, _ := a.current()
	shared := sharedOf(engines)
	if len(shared) == 0 {
		writeErr(w, http.StatusNotFound, noStore)
		return nil, nil
	}
	sh := shared[len(shared)-1]
	st, err := sh.Client()
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return nil, nil
	}
	return sh, st
}

func storeCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), storeTimeout)
}

func (a *Server) getStore(w http.ResponseWriter, _ *http.Request) {
	engines, _ := a.current()
	s := storeStatus(engines)
	if s == nil {
		writeErr(w, http.StatusNotFound, noStore)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *Server) getZone(w http.ResponseWriter, r *http.Request) {
	_, st := a.storeOf(w)
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
func (a *Server) putZone(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	_, st := a.storeOf(w)
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
	a.log.Infof("store: zone %s pushed by %s (revision %d)", origin, clientName(r), rev)
	writeJSON(w, http.StatusOK, map[string]any{"zone": origin, "revision": rev})
}

func (a *Server) deleteZone(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	_, st := a.storeOf(w)
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
	a.log.Infof("store: zone %s deleted by %s", origin, clientName(r))
	writeJSON(w, http.StatusOK, map[string]any{"deleted": origin})
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

func (a *Server) postRegistration(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	sh, st := a.storeOf(w)
	if st == nil {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	var req adminapi.RegistrationRequest
	if err := decodeStrict(body, &req); err != nil {
		writeErr(w, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if req.Service == "" || req.Site == "" {
		writeErr(w, http.StatusBadRequest, "service and site are required")
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
	reg := store.Registration{Address: req.Address, Port: req.Port, Site: req.Site, Weight: req.Weight, Hostname: req.Hostname}
	if err := sh.CheckRegistration(svc, reg); err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	// CheckRegistration accepted the address; it is stored in its
	// canonical form (an IPv4-mapped IPv6 address as IPv4).
	addr, err := netip.ParseAddr(req.Address)
	if err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("address %q is not an IPv4 or IPv6 address", req.Address))
		return
	}
	addr = addr.Unmap()
	reg.Address = addr.String()
	id := registrationBackend(addr, req.Port)
	ctx, cancel := storeCtx(r)
	defer cancel()
	if err := st.RegisterLease(ctx, svc, id, reg, ttl); err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"service": svc, "backend": id, "ttl_seconds": int(ttl / time.Second)})
}

func (a *Server) deleteRegistration(w http.ResponseWriter, r *http.Request) {
	defer a.invalidateStatus()
	_, st := a.storeOf(w)
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
	a.log.Infof("store: %s/%s deregistered by %s", svc, id, clientName(r))
	writeJSON(w, http.StatusOK, map[string]any{"deregistered": svc + "/" + id})
}
