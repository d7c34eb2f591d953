// Package ops holds what operators decide about backends, apart from the
// health checker: the override store (drain, down, up; with expiry), and the
// state file that keeps overrides across restarts, replaced atomically.
//
// It talks to the rest of hadns through two small interfaces: a Listener
// (the engine, told to recompute its answers when overrides change) and a
// Logger. It must not know about zones, answers, DNS or CoreDNS; which
// backends a selector matches is decided where the backends are.
package ops
