// Package healthcheck is hadns's embedded active health checker.
//
// It takes a set of targets (an address and a check Spec), runs one probe loop
// per distinct target however many services point at it, turns probe results
// into a state (unknown, up, suspect, down) through a rise/fall policy, and
// reports every transition. It knows nothing of DNS zones or CoreDNS: the
// plugin decides what a state means for its answers.
//
// # Probes and watchers
//
// A probe is a Prober: Check(ctx, target) error, whose error says why the
// target failed ("connect: connection refused", "http: status 503",
// "tls: certificate expired"). Kinds tcp, http, https, tls and dns poll: the
// loop calls Check on a schedule. Kind watch does not poll: it holds one TCP
// connection to the target (a Watcher opens a Session and waits on it), so a
// backend whose process dies is seen the moment the kernel resets the
// connection, with no probe interval in between. There is deliberately no exec
// kind: forking a process per probe does not fit ten thousand targets, and a
// check that runs arbitrary commands is a liability in a nameserver.
//
// # Policy
//
// The policy is separate from the probes and the same for every kind.
// Results are counted as consecutive successes and failures; an opposite
// result resets the count (Consul's and HAProxy's rule):
//
//   - Unknown is the initial state. The first result decides directly:
//     a success makes the target Up, a failure makes it Down. Start-up thus
//     neither hands out a dead backend for fall intervals nor withholds a live
//     one for rise intervals.
//   - Up becomes Suspect on its first failure and Down after Fall consecutive
//     failures (with Fall 1 it goes Down at once). A success while Suspect
//     returns it to Up. Up<->Suspect changes are transitions like any other:
//     the plugin hands suspect backends out with a short TTL.
//   - Down becomes Up after Rise consecutive successes; with fewer it stays
//     Down.
//   - A watch connection that is lost (closed, reset) is a definitive
//     failure: Down at once, whatever Fall says. Reconnect attempts are the
//     watch's probes: it comes back Up after Rise good reconnects.
//   - A watch connection the kernel dropped for an unanswered keepalive
//     (KeepaliveCount of them, through TCP_USER_TIMEOUT) makes the target
//     Suspect while one reconnect, bounded by Timeout, tells a silent host
//     (Down) from one lost packet (Up again, holding the new connection).
//   - A probe that fails for a reason on the checker's side (IsLocal: out
//     of file descriptors, buffers, memory or local ports) is no result at
//     all: the state and counts stay as they were, and the checker reports
//     it as its own trouble (LocalTrouble) instead.
//
// The first probe of a target runs as soon as its loop starts (at Start, or
// at Set for a target added later), not on first use. The next probe is
// scheduled only after the last one finished, so probes of one target never
// overlap. While Up the delay is Interval with ±5% jitter; after the first
// probe it is uniform in [0, Interval) so that many targets started together
// spread over the interval. While in transition (Suspect, or Down with some
// successes) the delay is FastInterval, so a first failure is confirmed or
// cleared quickly. While Down it is DownInterval with ±5% jitter.
// Spec.DetectionBound states the resulting worst case.
//
// # Targets
//
// Checker.Set takes the whole target set at once; targets are identified by
// Target.Key, so an unchanged target keeps its state across a reload. Set
// validates every spec against the kinds the checker has probers for and
// refuses (and names, in its error) any that is invalid, such as one of an
// unknown kind, rather than running a target that can only fail. A target
// that Set removes gets one last Event, with Removed set.
//
// On Linux with the real clock, tcp targets share one epoll-driven loop (a
// goroutine, an epoll set and a heap of deadlines for all of them) rather
// than a goroutine and a timer each; see tcploop_linux.go. The schedule and
// the policy are the same. Elsewhere, and under an injected Clock, a tcp
// probe is TCPProber.Check, a net.Dialer connect.
//
// # Reading state
//
// State(key) is lock-free (an atomically swapped immutable map of targets,
// each holding its state in an atomic), for the query path. Status and
// Snapshot give the details for status pages. Subscribe delivers every
// transition in order without ever blocking the probe loops; a subscriber
// that falls behind gets coalesced events (see Subscription.Events).
//
// # Observability
//
// The package registers no metrics itself: it cannot know the namespace of
// its host (CoreDNS wants coredns_<plugin>_...) and a library that registers
// into the global Prometheus registry breaks a second instance (a reload).
// Instead it exposes hooks: Options.OnProbe after every probe (duration and
// error, for a duration histogram and a results counter), Options.OnLag
// before every scheduled probe (how late it started, for a checker-overload
// gauge), and the transition subscription (for a transitions counter and the
// log line per transition). The plugin owns the metric names.
//
// # Time
//
// Every loop takes its time from Options.Clock (default SystemClock, the
// time package). Tests inject healthchecktest.FakeClock, which lives in a
// test-support package so it does not ship here, and drive the state machine
// by advancing it, without sleeping.
package healthcheck
