// Package admin is hadns's admin HTTP server: the API (GET /v1/status, GET,
// POST and DELETE /v1/overrides, and with a shared store GET /v1/store,
// GET, PUT and DELETE /v1/zones/{origin}, POST /v1/registrations and
// DELETE /v1/registrations/{service}/{backend}), the status page, and what
// guards them (the token, the Host check against DNS rebinding, connection,
// time and body limits, refusals decided on headers alone). One server
// runs per listen address and serves every engine registered on it: during
// a Corefile reload both instances', the newest winning a zone both serve
// and setting the token and certificate; when an engine leaves (a failed
// reload's), the newest that remains decides again.
//
// It owns the admin configuration's rules (Config), the cached and
// compressed status document, and the merge of the engines' parts of it.
// It sees an engine only through the Engine interface (its OverrideStore,
// its SharedStore if it has one, its zones described for the status, which
// backends a selector matches) and sets overrides through that store. It
// must not know about CoreDNS, the Corefile, zones, answers or the
// plugin's engine: how a backend is described, which backends a selector
// matches and what a registration may name are decided where the backends
// are (plugin/adminview.go, plugin/adminview_store.go).
package admin
