#!/usr/bin/env bash
# Conformance check of hadns against DNSViz and Zonemaster.
#
#   test/conformance/run.sh [--signed] /path/to/hadns-binary
#
# Serves the example zone (zones/example.test.yaml) from the given hadns
# binary as two nameservers, ns1.example.test on 127.0.0.1:53 and
# ns2.example.test on 127.0.0.2:53, plus a private root zone on
# 127.0.0.254:53 that delegates example.test to them. Then runs
#
#   * dnsviz probe (authoritative analysis, walking down from the private
#     root) and dnsviz grok -l warning: any output at all fails the run;
#   * zonemaster-cli with the private root as its hints and
#     test/conformance/zonemaster-profile.json: any message at WARNING or
#     above fails the run.
#
# With --signed, hadns signs the zone with the example keys under zones/keys
# (a `dnssec` line), and the private root is itself signed (keys made for
# the run with ldns-keygen, ldns-signzone) and holds the DS that
# `hadns dnssec ds` prints for the zone's KSK: the tools then check the whole
# chain of trust from the private root, dnsviz with the root's DNSKEYs as
# its trust anchor, Zonemaster's DNSSEC test cases among all the others.
#
# Everything happens in a network namespace of the script's own making
# (unshare --net: nothing in it but lo, which we bring up), so no query can
# leave the machine and port 53 is free; Zonemaster has no port option.
#
# Needs: bash, util-linux (unshare), iproute2 (ip), dig (bind9-dnsutils),
# dnsviz, zonemaster-cli, and root (or unprivileged user namespaces);
# ldnsutils (ldns-keygen, ldns-signzone) and nsd with --signed.
# Installs nothing. test/conformance/README.md explains what is checked and
# why ADDRESS01, ADDRESS02 and ZONE01 findings (and their dnsviz
# counterpart) are lowered.
#
# Environment:
#   CONFORMANCE_ARTIFACTS=DIR  copy the Corefiles, zone files, server logs and
#                              the tools' full output to DIR (pass or fail).
set -euo pipefail

me=$(basename "$0")
die() { echo "$me: $*" >&2; exit 2; }

# --- outside the namespace: check arguments, then re-exec inside one ---------
signed=
if [[ ${1:-} == --signed ]]; then
	signed=--signed
	shift
fi
if [[ "${HADNS_CONFORMANCE_IN_NETNS:-}" != 1 ]]; then
	[[ $# -eq 1 ]] || { echo "usage: $me [--signed] /path/to/hadns-binary" >&2; exit 2; }
	bin=$(readlink -f -- "$1") || die "no such file: $1"
	[[ -f "$bin" && -x "$bin" ]] || die "not an executable file: $1"
	tools=(unshare ip dig dnsviz zonemaster-cli timeout)
	[[ -z $signed ]] || tools+=(ldns-keygen ldns-signzone nsd)
	for tool in "${tools[@]}"; do
		command -v "$tool" >/dev/null ||
			die "missing tool: $tool (apt-get install -y dnsviz zonemaster-cli iproute2 bind9-dnsutils)"
	done
	# A new network namespace holds only a loopback interface, down.
	# Without root, also map ourselves to root in a new user namespace so
	# that we may bring lo up and bind port 53 inside it.
	flags=(--net)
	[[ $EUID -eq 0 ]] || flags+=(--map-root-user)
	export HADNS_CONFORMANCE_IN_NETNS=1
	exec unshare "${flags[@]}" -- bash "$(readlink -f -- "$0")" $signed "$bin"
fi

# --- inside the namespace -------------------------------------------------------
bin=$1
repo=$(cd "$(dirname "$(readlink -f -- "$0")")/../.." && pwd)
zonefile=$repo/zones/example.test.yaml
profile=$repo/test/conformance/zonemaster-profile.json
[[ -f $zonefile ]] || die "missing $zonefile"
[[ -f $profile ]] || die "missing $profile"

# This must be a namespace with nothing but loopback in it.
links=$(ip -o link show) || die "ip link show failed"
if grep -v ': lo:' <<<"$links" | grep -q .; then
	die "not in a private network namespace (found non-loopback interfaces)"
fi
ip link set lo up

ZONE=example.test
NS1=127.0.0.1         # ns1.example.test, as in the zone file
NS2=127.0.0.2         # ns2.example.test, as in the zone file
ROOT=127.0.0.254      # a.root-servers., the private root
CHILD=child.$ZONE     # delegated by the example zone...
CHILD_NS=127.0.0.53   # ...to ns1.child.example.test, glue as in the zone file
READY_PORT=8181       # hadns's `ready` endpoint, on each nameserver address

work=$(mktemp -d "${TMPDIR:-/tmp}/hadns-conformance.XXXXXX")
pids=()     # servers
tool_pid=   # the tool running now, if any
cleanup() {
	local rc=$?
	local pid
	for pid in $tool_pid "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	[[ -z $tool_pid ]] || wait "$tool_pid" 2>/dev/null || true
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ -n "${CONFORMANCE_ARTIFACTS:-}" ]]; then
		mkdir -p "$CONFORMANCE_ARTIFACTS"
		cp -r "$work"/. "$CONFORMANCE_ARTIFACTS"/ || true
		echo "artifacts in $CONFORMANCE_ARTIFACTS"
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

section() { printf '\n=== %s\n' "$*"; }

# bounded SECONDS COMMAND...: run COMMAND under timeout, in the background
# so that a signal to this script is handled at once (bash runs traps only
# between foreground commands) and the trap can stop it.
bounded() {
	local rc=0
	timeout "$1" "${@:2}" &
	tool_pid=$!
	wait "$tool_pid" || rc=$?
	tool_pid=
	return "$rc"
}
started=$SECONDS

# --- the private root, and the example zone's child --------------------------
# One root server, a.root-servers., whose address is authoritative data of
# the root zone itself, and a delegation of example.test straight from the
# root (test. is an empty non-terminal) with glue for both nameservers.
# Timers as in the real root zone.
cat >"$work/root.zone" <<EOF
\$ORIGIN .
\$TTL 86400
.                86400  IN SOA a.root-servers. hostmaster.root-servers. 2026112201 1800 900 604800 86400
.                518400 IN NS  a.root-servers.
a.root-servers.  518400 IN A   $ROOT
$ZONE.           172800 IN NS  ns1.$ZONE.
$ZONE.           172800 IN NS  ns2.$ZONE.
ns1.$ZONE.       172800 IN A   $NS1
ns2.$ZONE.       172800 IN A   $NS2
EOF

# Signed: the root gets the zone's DS, as `hadns dnssec ds` prints it for
# the example KSK, and is signed with keys made for this run (NSEC). The
# root's DNSKEYs are dnsviz's trust anchor.
ksk=$repo/zones/keys/Kexample.test.+013.ksk.NOT-FOR-PRODUCTION
zsk=$repo/zones/keys/Kexample.test.+013.zsk.NOT-FOR-PRODUCTION
rootfile=$work/root.zone
trust=()
dnssec_line=
if [[ -n $signed ]]; then
	"$bin" dnssec ds -ttl 86400 "$ksk" >>"$work/root.zone" || die "hadns dnssec ds failed"
	(
		cd "$work"
		rksk=$(ldns-keygen -a ECDSAP256SHA256 -k .) &&
			rzsk=$(ldns-keygen -a ECDSAP256SHA256 .) &&
			ldns-signzone -f root.zone.signed root.zone "$rksk" "$rzsk" &&
			cat "$rksk.key" "$rzsk.key" >root.trusted
	) || die "signing the private root failed"
	rootfile=$work/root.zone.signed
	trust=(-t "$work/root.trusted")
	dnssec_line="dnssec $ZONE $ksk $zsk"
fi

# Root hints for Zonemaster (--hints); dnsviz gets the same with -x.
cat >"$work/root.hints" <<EOF
.                3600000 IN NS a.root-servers.
a.root-servers.  3600000 IN A  $ROOT
EOF

# The example zone delegates child.example.test to ns1.child.example.test.
# Serve that child as well, so that dnsviz follows hadns's referral to a
# live server instead of reporting a lame delegation.
cat >"$work/child.zone" <<EOF
\$ORIGIN $CHILD.
\$TTL 3600
@    IN SOA ns1.$CHILD. hostmaster.$ZONE. 2026112201 14400 3600 1209600 300
@    IN NS  ns1.$CHILD.
ns1  IN A   $CHILD_NS
EOF

# Unsigned, the root is served by the same binary's file plugin. Signed, by
# NSD: CoreDNS's file plugin answers a name below a missing TLD of a signed
# zone NOERROR with the apex's NSEC, which dnsviz rightly reports (for the
# CNAME out of the example zone, docs.example.org), and which is not
# hadns's to test.
root_block=".:53 {
    bind $ROOT
    log
    errors
    file $rootfile .
}"
if [[ -n $signed ]]; then
	root_block=
	cat >"$work/nsd.conf" <<EOF
server:
    ip-address: $ROOT
    port: 53
    username: ""
    chroot: ""
    zonesdir: "$work"
    database: ""
    zonelistfile: "$work/nsd.zonelist"
    xfrdfile: "$work/nsd.xfrd"
    xfrdir: "$work"
    pidfile: "$work/nsd.pid"
    logfile: "$work/root.log"
remote-control:
    control-enable: no
zone:
    name: "."
    zonefile: "$rootfile"
EOF
fi
cat >"$work/Corefile.private" <<EOF
$root_block
$CHILD:53 {
    bind $CHILD_NS
    log
    errors
    file $work/child.zone $CHILD
}
EOF

# --- the two hadns nameservers ---------------------------------------------------
# One process per nameserver, as two independent servers would be, with the
# site table of Corefile.example. The zone's backends are not running here,
# so every health check fails; we wait for hadns to report ready (every
# check has a first result, or its start-up timeout passed) so that the
# tools see the answers of a settled server rather than one starting up.
for ns in "ns1 $NS1" "ns2 $NS2"; do
	read -r name addr <<<"$ns"
	cat >"$work/Corefile.$name" <<EOF
$ZONE:53 {
    bind $addr
    log
    errors
    ready $addr:$READY_PORT
    hadns {
        zone $zonefile
        site east 127.0.1.0/24 fallback west
        site west 127.0.2.0/24 fallback east
        $dnssec_line
    }
}
EOF
done

# Servers get SIGTERM if this script dies without running its trap (e.g.
# SIGKILL from a CI timeout), so none outlives it in the namespace.
deathsig=()
if command -v setpriv >/dev/null; then deathsig=(setpriv --pdeathsig TERM --); fi
start() { # NAME: run the binary on $work/Corefile.NAME, log to $work/NAME.log
	"${deathsig[@]}" "$bin" -conf "$work/Corefile.$1" >"$work/$1.log" 2>&1 &
	pids+=($!)
}
start private
if [[ -n $signed ]]; then
	command -v nsd >/dev/null || die "missing tool: nsd (apt-get install -y nsd)"
	"${deathsig[@]}" nsd -d -c "$work/nsd.conf" >>"$work/root.log" 2>&1 &
	pids+=($!)
fi
start ns1
start ns2

show_logs() {
	local f
	for f in private ns1 ns2 root; do
		[[ -f $work/$f.log ]] || continue
		echo "--- $f.log (last 20 lines)"
		tail -n 20 "$work/$f.log"
	done
}

# soa_ok ADDR NAME: does ADDR answer SOA NAME authoritatively, NOERROR?
soa_ok() {
	local out
	out=$(dig +norec +tries=1 +time=1 "@$1" "$2" SOA 2>/dev/null) || return 1
	grep -q 'status: NOERROR' <<<"$out" && grep -q 'flags: qr aa' <<<"$out"
}

# ready_ok ADDR: does hadns's ready endpoint on ADDR answer 200?
ready_ok() {
	local line
	{
		exec 3<>"/dev/tcp/$1/$READY_PORT" &&
			printf 'GET /ready HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3 &&
			IFS= read -r -t 1 line <&3 &&
			[[ $line == "HTTP/1."[01]" 200"* ]]
	} 2>/dev/null
	local rc=$?
	exec 3>&-
	return "$rc"
}

# wait_for DESCRIPTION TRIES COMMAND...: retry COMMAND every 0.1 s.
wait_for() {
	local what=$1 tries=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		if "$@"; then
			echo "ok: $what"
			return 0
		fi
		sleep 0.1
	done
	echo "FAIL: $what: no success after $tries tries, 0.1 s apart" >&2
	show_logs >&2
	exit 1
}

section "starting servers"
wait_for "$ROOT answers SOA ." 50 soa_ok "$ROOT" .
wait_for "$CHILD_NS answers SOA $CHILD" 50 soa_ok "$CHILD_NS" "$CHILD"
wait_for "$NS1 answers SOA $ZONE" 50 soa_ok "$NS1" "$ZONE"
wait_for "$NS2 answers SOA $ZONE" 50 soa_ok "$NS2" "$ZONE"
# hadns's default start-up timeout is 5 s.
wait_for "hadns on $NS1 is ready" 100 ready_ok "$NS1"
wait_for "hadns on $NS2 is ready" 100 ready_ok "$NS2"

fails=()

# --- DNSViz -------------------------------------------------------------------------
# probe:
#   -A   analyse the authoritative servers, walking down from the root;
#   -x .:a.root-servers.=ADDR  our private root instead of dnsviz's built-in
#        root hints (nothing else could answer in this namespace anyway);
#   -E   also probe EDNS behaviour at each zone apex (SOA queries with an
#        unknown EDNS version, an unknown option, an unknown flag);
#   -4   there is no IPv6 route here (only ::1) and the zone has no AAAA
#        nameserver records.
# Names: the apex, and one name for each kind of data in the example zone:
# a service (A, SRV, SRV target), CNAME to a service, CNAME chain, CNAME out
# of the zone, wildcard, empty non-terminal, deep name, MX target, the
# delegated child, and a name that does not exist.
# grok:
#   -P   allow private addresses for nameservers. Without it dnsviz reports
#        NS_NAME_PRIVATE_IP and GLUE_PRIVATE_IP: every nameserver here is on
#        loopback. -P disables exactly those two checks and nothing else
#        (dnsviz/analysis/offline.py); they are dnsviz's counterpart of
#        Zonemaster's ADDRESS01, lowered below for the same reason.
section "dnsviz"
names=(
	"$ZONE" "api.$ZONE" "_http._tcp.api.$ZONE" "127-0-1-1.api.$ZONE"
	"www.$ZONE" "old.$ZONE" "docs.$ZONE" "x.wild.$ZONE" "lab.dc.$ZONE"
	"host.lab.dc.$ZONE" "mail.$ZONE" "$CHILD" "nonexistent.$ZONE"
)
if bounded 300 dnsviz probe -4 -A -E -x ".:a.root-servers.=$ROOT" \
	-o "$work/dnsviz-probe.json" "${names[@]}" \
	>"$work/dnsviz-probe.log" 2>&1; then
	echo "probed: ${names[*]}"
	# The whole analysis, kept as an artifact.
	bounded 120 dnsviz grok -P -r "$work/dnsviz-probe.json" \
		-o "$work/dnsviz-grok.json" 2>>"$work/dnsviz-grok.err" || true
	# What counts: nothing at warning or above.
	grok_rc=0
	bounded 120 dnsviz grok -P -l warning -r "$work/dnsviz-probe.json" \
		>"$work/dnsviz-grok-warning.out" 2>&1 || grok_rc=$?
	if [[ $grok_rc -ne 0 ]]; then
		cat "$work/dnsviz-grok-warning.out"
		fails+=("dnsviz grok failed (rc $grok_rc)")
	elif [[ -s $work/dnsviz-grok-warning.out ]]; then
		echo "dnsviz grok -P -l warning:"
		cat "$work/dnsviz-grok-warning.out"
		fails+=("dnsviz: warnings or errors")
	else
		echo "dnsviz grok -P -l warning: (nothing)"
	fi
else
	echo "dnsviz probe failed (rc $?):"
	cat "$work/dnsviz-probe.log"
	fails+=("dnsviz probe failed")
fi

# --- Zonemaster ------------------------------------------------------------------------
# A delegated test: Zonemaster walks down from the private root (--hints) to
# example.test's delegation, then tests the zone on the nameservers the
# root names, with their glue: parent/child consistency is tested too.
# The profile lowers ADDRESS01, ADDRESS02 and ZONE01 findings for exactly
# our loopback nameserver addresses (see README.md); everything else keeps
# Zonemaster's default level.
section "zonemaster-cli"
zm_rc=0
bounded 600 zonemaster-cli --no-progress --no-ipv6 --hints "$work/root.hints" \
	--profile "$profile" --raw --show-level --show-testcase --level INFO \
	"$ZONE" >"$work/zonemaster.out" 2>"$work/zonemaster.err" || zm_rc=$?
if [[ $zm_rc -ne 0 ]]; then
	echo "zonemaster-cli failed (rc $zm_rc):"
	cat "$work/zonemaster.err" "$work/zonemaster.out"
	fails+=("zonemaster-cli failed (rc $zm_rc)")
fi
# --raw lines read "   0.12 WARNING   ZONE01         TAG   args".
lvl='^[[:space:]]*[0-9]+\.[0-9]+[[:space:]]+'
echo "notices (not failures):"
grep -E "${lvl}NOTICE" "$work/zonemaster.out" || echo "  (none)"
if grep -qE "${lvl}(WARNING|ERROR|CRITICAL)" "$work/zonemaster.out"; then
	echo "WARNING or above:"
	grep -E "${lvl}(WARNING|ERROR|CRITICAL)" "$work/zonemaster.out"
	fails+=("zonemaster: messages at WARNING or above")
elif [[ $zm_rc -eq 0 ]]; then
	echo "WARNING or above: (nothing)"
fi
# Guard against a run that tested nothing: Zonemaster must have found the
# delegation and reached both nameservers.
for ns in "ns1.$ZONE/$NS1" "ns2.$ZONE/$NS2"; do
	if ! grep -qE "${lvl}INFO +BASIC02 +HAS_NAMESERVERS +ns=$ns;" "$work/zonemaster.out"; then
		echo "zonemaster did not reach $ns (no BASIC02 HAS_NAMESERVERS)"
		fails+=("zonemaster: did not test $ns")
	fi
done

# Signed: guard against a run that checked no signature. dnsviz must find
# the chain from the private root secure down to the zone, and Zonemaster
# must have found the zone signed, with its denial of existence and its
# CDS/CDNSKEY.
if [[ -n $signed ]]; then
	section "signed: the chain was checked"
	if /usr/bin/python3 - "$work/dnsviz-grok.json" "$ZONE." <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
z = d[sys.argv[2]]
sys.exit(0 if z["delegation"]["status"] == "SECURE" else 1)
PY
	then
		echo "ok: dnsviz: the delegation of $ZONE from the signed root is SECURE"
	else
		fails+=("dnsviz: the delegation of $ZONE is not SECURE (or no analysis)")
	fi
	for tag in "DNSSEC10 +DS10_HAS_NSEC" "DNSSEC15 +DS15_HAS_CDS_AND_CDNSKEY" "DNSSEC05 +ALGORITHM_OK"; do
		if grep -qE "${lvl}INFO +$tag" "$work/zonemaster.out"; then
			echo "ok: zonemaster: ${tag/ +/ }"
		else
			fails+=("zonemaster: no ${tag/ +/ } for the signed zone")
		fi
	done
	if grep -qE "NOT_SIGNED|NEITHER_DNSKEY_NOR_DS" "$work/zonemaster.out"; then
		fails+=("zonemaster: found the zone unsigned")
	fi
fi

# --- summary -------------------------------------------------------------------------------
section "summary ($((SECONDS - started)) s)"
if [[ ${#fails[@]} -eq 0 ]]; then
	echo "PASS: dnsviz and Zonemaster report nothing at warning or above for $ZONE${signed:+ (signed)}"
	exit 0
fi
for f in "${fails[@]}"; do echo "FAIL: $f"; done
exit 1
