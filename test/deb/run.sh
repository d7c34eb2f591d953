#!/usr/bin/env bash
# Installs the hadns Debian package on this machine and checks it as an
# operator would meet it: files, permissions, the hadns user, conffiles, the
# systemd unit (systemd-analyze verify), then runs the installed binary as
# the hadns user with CAP_NET_BIND_SERVICE and no other capability, in a
# network namespace of its own, serving port 53, and queries it with dig;
# last it removes and purges the package and checks what is left.
#
#   test/deb/run.sh dist/hadns_VERSION_ARCH.deb        (make deb-test)
#
# Needs root and: dpkg, systemd (systemd-analyze), iproute2 (ip netns),
# util-linux (setpriv), bind9-dnsutils (dig). Takes a few seconds; every
# wait is bounded. Refuses to run where hadns is already installed.
set -euo pipefail

deb=${1:?usage: test/deb/run.sh PACKAGE.deb}
[ "$(id -u)" = 0 ] || { echo "test/deb: needs root (dpkg -i, ip netns)" >&2; exit 2; }
for c in dpkg dpkg-query systemd-analyze ip setpriv dig; do
    command -v "$c" >/dev/null || { echo "test/deb: $c is missing" >&2; exit 2; }
done
if dpkg-query -W -f='${db:Status-Status}' hadns 2>/dev/null | grep -qv '^not-installed$'; then
    echo "test/deb: hadns is already installed here; dpkg --purge hadns first" >&2
    exit 2
fi

ns=hadns-debtest-$$
pid=""
fails=0
installed=0
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    ip netns del "$ns" 2>/dev/null || true
    if [ "$installed" = 1 ]; then dpkg --purge hadns >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# expect_stat PATH "MODE OWNER GROUP"
expect_stat() {
    local got
    got=$(stat -c '%a %U %G' "$1" 2>/dev/null || echo missing)
    if [ "$got" = "$2" ]; then ok "$1 $got"; else fail "$1 is '$got', want '$2'"; fi
}

echo "== package versions from git describe"
build=$(dirname "$0")/../../packaging/deb/build.sh
while read -r describe want; do
    got=$("$build" -V "$describe")
    case $want in
    snapshot:*) [[ $got =~ ^0\.0~git[0-9]{14}\.${want#snapshot:}$ ]] || fail "$describe -> $got, want 0.0~gitDATE.${want#snapshot:}" ;;
    *) [ "$got" = "$want" ] || fail "$describe -> $got, want $want" ;;
    esac
done <<'EOF2'
v1.2.0 1.2.0
v1.2.0-rc1 1.2.0~rc1
v1.2.0-3-gabc1234 1.2.0+3.gabc1234
v1.2.0-3-gabc1234-dirty 1.2.0+3.gabc1234+dirty
1adc4aa snapshot:1adc4aa
abcdef0-dirty snapshot:abcdef0\+dirty
EOF2
# ...and they sort as releases do.
order=(0.0~git20261201000000.1adc4aa 1.2.0~rc1 1.2.0 1.2.0+3.gabc1234 1.2.1)
for i in $(seq 1 $((${#order[@]} - 1))); do
    dpkg --compare-versions "${order[i-1]}" lt "${order[i]}" || fail "${order[i-1]} does not sort before ${order[i]}"
done

echo "== the archive"
# ./ is /: an archive whose ./ is not 0755 root would change /'s mode.
dpkg-deb -c "$deb" | awk 'NR == 1 && !($1 == "drwxr-xr-x" && $2 == "root/root" && $6 == "./") {exit 1}' ||
    fail "the archive's ./ is $(dpkg-deb -c "$deb" | head -1)"
dpkg-deb -c "$deb" | awk '$2 != "root/root" {exit 1}' || fail "files not owned by root in the archive"

echo "== install $deb"
dpkg -i "$deb" >/dev/null
installed=1
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' hadns)" = "ii " ] || fail "hadns not installed and configured"

echo "== files and permissions"
expect_stat /usr/bin/hadns "755 root root"
expect_stat /etc/hadns "755 root root"
expect_stat /etc/hadns/Corefile "644 root root"
expect_stat /etc/hadns/zones/example.test.yaml "644 root root"
expect_stat /usr/lib/systemd/system/hadns.service "644 root root"
expect_stat /etc/hadns/admin-token "640 root hadns"
expect_stat /var/lib/hadns "750 hadns hadns"
[ "$(tr -d '\n' < /etc/hadns/admin-token | wc -c)" = 64 ] || fail "admin token is not 32 random bytes in hex"
/usr/bin/hadns -version | head -1 | grep -Eq '^hadns [^ ]+ \(commit [0-9a-f]{7,}' ||
    fail "hadns -version: $(/usr/bin/hadns -version | head -1)"

echo "== user"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd hadns) || fail "no hadns user"
[ "${uid:-0}" -gt 0 ] && [ "${uid:-0}" -lt 1000 ] || fail "hadns uid $uid is not a system uid"
[ "$(getent group hadns | cut -d: -f3)" = "$gid" ] || fail "hadns's group is not hadns"
[ "$home" = /var/lib/hadns ] || fail "hadns's home is $home"
case $shell in */nologin|*/false) ;; *) fail "hadns's shell is $shell" ;; esac
ok "hadns uid $uid gid $gid home $home shell $shell"

echo "== conffiles"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' hadns)
for f in /etc/hadns/Corefile /etc/hadns/zones/example.test.yaml; do
    if grep -Eq "^ $f [0-9a-f]{32}$" <<<"$conffiles"; then ok "conffile $f"; else fail "$f is not a conffile: $conffiles"; fi
done
[ "$(grep -c . <<<"$conffiles")" = 2 ] || fail "conffiles: $conffiles"

echo "== the unit"
unit=/usr/lib/systemd/system/hadns.service
# verify exits 0 on unknown keys and sections: its warnings about our
# unit count as failures too (lines about other units do not).
if out=$(systemd-analyze verify "$unit" 2>&1) && ! grep -qF "$unit" <<<"$out"; then
    ok "systemd-analyze verify"
else
    fail "systemd-analyze verify: $out"
fi
for want in 'User=hadns' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' \
    'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'StateDirectory=hadns' \
    'RestrictAddressFamilies=' 'SystemCallFilter=@system-service' 'ExecStartPre=/usr/bin/hadns check' \
    'ExecReload=/bin/kill -USR1 $MAINPID' 'Restart=on-failure'; do
    grep -qF "$want" "$unit" || fail "the unit lacks $want"
done

echo "== hadns check, as the hadns user"
if out=$(cd /etc/hadns && setpriv --reuid hadns --regid hadns --init-groups -- /usr/bin/hadns check -conf /etc/hadns/Corefile 2>&1); then
    ok "hadns check accepts the packaged Corefile"
else
    fail "hadns check -conf /etc/hadns/Corefile: $out"
fi

echo "== serve port 53 as hadns with CAP_NET_BIND_SERVICE only, in network namespace $ns"
ip netns add "$ns"
ip -n "$ns" link set lo up
log=$(mktemp)
# Without the capability the same command cannot bind port 53: it is the
# capability, not the namespace, that lets it.
if out=$(cd /etc/hadns && timeout 20 ip netns exec "$ns" setpriv --reuid hadns --regid hadns --init-groups \
    --inh-caps -all --ambient-caps -all --bounding-set -all --no-new-privs -- \
    /usr/bin/hadns -conf /etc/hadns/Corefile 2>&1); then
    fail "hadns served without CAP_NET_BIND_SERVICE"
elif grep -q 'permission denied' <<<"$out"; then
    ok "without CAP_NET_BIND_SERVICE: $(grep -o 'listen.*permission denied' <<<"$out" | head -1)"
else
    fail "without CAP_NET_BIND_SERVICE, not a permission error: $out"
fi
(cd /etc/hadns && exec ip netns exec "$ns" setpriv --reuid hadns --regid hadns --init-groups \
    --inh-caps -all,+net_bind_service --ambient-caps -all,+net_bind_service \
    --bounding-set -all,+net_bind_service --no-new-privs -- \
    /usr/bin/hadns -conf /etc/hadns/Corefile) >"$log" 2>&1 &
pid=$!
q() { ip netns exec "$ns" dig @127.0.0.1 -p 53 +norec +time=1 +tries=1 "$@"; }
up=0
for _ in $(seq 50); do # 50 × (up to 1 s for dig + 0.1 s): bounded
    if q example.test SOA 2>/dev/null | grep -q 'status: NOERROR'; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ "$up" != 1 ]; then
    fail "hadns did not answer on port 53: $(cat "$log")"
else
    ok "answers on 127.0.0.1:53"
    # The server process (setpriv and ip execed into it): its user and capabilities.
    status=/proc/$pid/status
    [ "$(awk '/^Uid:/ {print $2}' "$status")" = "$uid" ] || fail "server runs as uid $(awk '/^Uid:/ {print $2}' "$status")"
    for c in CapEff CapPrm CapBnd CapAmb; do # bit 10: CAP_NET_BIND_SERVICE
        v=$(awk -v c="$c:" '$1 == c {print $2}' "$status")
        [ "$v" = 0000000000000400 ] || fail "$c is $v, want CAP_NET_BIND_SERVICE only (0000000000000400)"
    done
    [ "$(awk '/^NoNewPrivs:/ {print $2}' "$status")" = 1 ] || fail "NoNewPrivs not set"
    ok "uid $uid, capabilities: CAP_NET_BIND_SERVICE only"

    soa=$(q example.test SOA)
    grep -q 'flags: qr aa;' <<<"$soa" || fail "SOA answer is not authoritative: $soa"
    # No backend runs in the namespace: hadns fails open with the client's
    # own site's backends (east: 127.0.1.1-3) and says so in an EDE.
    a=$(q -b 127.0.1.100 api.example.test A)
    got=$(awk '$4 == "A" {print $5}' <<<"$a" | sort | tr '\n' ' ')
    [ "$got" = "127.0.1.1 127.0.1.2 127.0.1.3 " ] || fail "api.example.test A from east: '$got'\n$a"
    grep -q 'EDE: 0 (Other): (fail-open' <<<"$a" || fail "no fail-open EDE: $a"
    q example.org A | grep -q 'status: REFUSED' || fail "a foreign name is not REFUSED"
    ok "dig: SOA authoritative, api.example.test fails open to east, example.org REFUSED"

    # The admin API on loopback, a change with the generated token, and the
    # state file the hadns user writes under /var/lib/hadns.
    if out=$(ip netns exec "$ns" /usr/bin/hadns ctl -token-file /etc/hadns/admin-token drain 127.0.1.1:8080 -reason "package test" 2>&1); then
        ok "hadns ctl drain"
    else
        fail "hadns ctl drain: $out"
    fi
    for _ in $(seq 50); do [ -s /var/lib/hadns/state.json ] && break; sleep 0.1; done
    expect_stat /var/lib/hadns/state.json "600 hadns hadns"
    got=$(q -b 127.0.1.100 api.example.test A | awk '$4 == "A" {print $5}' | sort | tr '\n' ' ')
    [ "$got" = "127.0.1.2 127.0.1.3 " ] || fail "after the drain: '$got'"

    # ExecReload's signal: CoreDNS reloads the Corefile and keeps serving.
    kill -USR1 "$pid"
    served=0
    for _ in $(seq 50); do
        if q example.test SOA 2>/dev/null | grep -q 'status: NOERROR'; then served=1; break; fi
        sleep 0.1
    done
    [ "$served" = 1 ] && kill -0 "$pid" || fail "no answer after SIGUSR1: $(cat "$log")"
fi
kill "$pid" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "hadns did not stop on SIGTERM within 10 s"
pid=""
rm -f "$log"

echo "== reinstall over a changed configuration"
echo "# changed by the operator" >> /etc/hadns/Corefile
token=$(cat /etc/hadns/admin-token)
dpkg -i --force-confold "$deb" >/dev/null
grep -q '^# changed by the operator$' /etc/hadns/Corefile || fail "reinstalling replaced the operator's Corefile"
[ "$(cat /etc/hadns/admin-token)" = "$token" ] || fail "reinstalling changed the admin token"
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' hadns)" = "ii " ] || fail "hadns not configured after reinstalling"
ok "reinstalled: Corefile and admin token kept"

echo "== dpkg -r"
dpkg -r hadns >/dev/null
[ ! -e /usr/bin/hadns ] || fail "/usr/bin/hadns left after remove"
[ ! -e "$unit" ] || fail "$unit left after remove"
[ -f /etc/hadns/Corefile ] || fail "remove took the conffile /etc/hadns/Corefile"
[ -d /var/lib/hadns ] || fail "remove took the state in /var/lib/hadns"
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' hadns)" = "rc " ] || fail "status after remove: $(dpkg-query -W -f='${db:Status-Abbrev}' hadns)"
ok "removed: configuration and state kept"

echo "== dpkg --purge"
dpkg --purge hadns >/dev/null
installed=0
for f in /etc/hadns /var/lib/hadns /usr/share/doc/hadns; do
    [ ! -e "$f" ] || fail "$f left after purge: $(find "$f" | head)"
done
dpkg-query -W -f='${db:Status-Abbrev}' hadns 2>/dev/null | grep -q '^i' && fail "hadns still known to dpkg"
getent passwd hadns >/dev/null || fail "purge removed the hadns user (Debian keeps system users)"
ok "purged: /etc/hadns, /var/lib/hadns gone; the hadns user stays"

if [ "$fails" -gt 0 ]; then
    echo "test/deb: $fails failure(s)" >&2
    exit 1
fi
echo "test/deb: PASS"
