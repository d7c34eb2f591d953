// Package ops holds what operators decide about backends, apart from the
// health checker, and what they need to know to act on it: the override
// store (drain, down, up; with expiry), the state file that keeps overrides
// across restarts, replaced atomically, and the drain tracker that tells
// when no cache can still hold a drained backend.
//
// It talks to the rest of hadns through small interfaces and plain values: a
// Listener (the engine, told to recompute its answers when overrides
// change), a Logger, and backend keys with TTLs. It must not know about
// zones, answers, DNS or CoreDNS; which backends a selector matches, and
// which backends an answer holds, are decided where the backends are.
package ops
