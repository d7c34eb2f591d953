// Package adminapi holds the JSON shapes of hadns's admin HTTP API: an
// operator's override, the body of POST /v1/overrides and its answer, and
// the document GET /v1/status returns. The server (plugin/) writes them and
// hadns ctl (cmd/hadns) reads them, so the two cannot drift apart; the state
// file stores overrides in the same shape.
//
// It owns the rules that need nothing but the request: which actions exist,
// that a selector names exactly one of backend, site or glob, how an expiry
// is read, and how an override reads in a log line. It must not know about
// zones, backends, health or the server: which backends a selector matches
// is decided where the backends are.
package adminapi
