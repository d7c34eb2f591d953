#!/usr/bin/env bash
# Build the hadns Debian package with dpkg-deb, offline, from a release
# binary (make release) and the files in this directory.
#
#   [ARCH=arm64] packaging/deb/build.sh BINARY VERSION OUTDIR
#   packaging/deb/build.sh -V VERSION      (only print the package version)
#
# VERSION is hadns's (git describe: v1.2.0, v1.2.0-3-gabc1234, or a bare
# commit); the package version is made from it. Prints the .deb's path.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

# Debian versions start with a digit and sort: v1.2.0 -> 1.2.0,
# v1.2.0-3-gabc1234 -> 1.2.0+3.gabc1234, v1.2.0-rc1 -> 1.2.0~rc1,
# a bare commit -> 0.0~gitDATE.abc1234
# (DATE the commit's, so later commits sort later), -dirty -> +dirty.
debversion() {
    local v=${1#v} dirty=""
    case $v in *-dirty) v=${v%-dirty}; dirty="+dirty" ;; esac
    # A bare commit (git describe without a tag) may start with a digit too.
    if [[ $v =~ ^[0-9] && ! $v =~ ^[0-9a-f]{7,40}$ ]]; then
        local after=""
        if [[ $v =~ ^(.*)-([0-9]+)-(g[0-9a-f]+)$ ]]; then
            v=${BASH_REMATCH[1]} after="+${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
        fi
        # A pre-release (v1.2.0-rc1) sorts before its release: 1.2.0~rc1.
        while [[ $v =~ ^(.*)-([a-zA-Z].*)$ ]]; do
            v="${BASH_REMATCH[1]}~${BASH_REMATCH[2]}"
        done
        v=$v$after
    else
        local date
        date=$(TZ=UTC git -C "$top" log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S 2>/dev/null || echo 0)
        v="0.0~git$date.$v"
    fi
    # A Debian upstream version holds no hyphen without a revision.
    echo "${v//-/.}$dirty"
}

if [ "${1:-}" = -V ]; then # print the package version for VERSION, and stop
    debversion "$2"
    exit 0
fi
bin=$1 version=$2 outdir=$3

# Debian's name of the binary's architecture (Go's amd64 and arm64 are the same).
arch=${ARCH:-$(dpkg --print-architecture)}
debver=$(debversion "$version")

# Files get the commit's time, so two builds of one commit are the same.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root" # the package's ./ : dpkg must not take it for /'s mode
install -D -m 0755 "$bin" "$root/usr/bin/hadns"
install -D -m 0644 "$here/Corefile" "$root/etc/hadns/Corefile"
install -D -m 0644 "$top/zones/example.test.yaml" "$root/etc/hadns/zones/example.test.yaml"
install -D -m 0644 "$here/hadns.service" "$root/usr/lib/systemd/system/hadns.service"
install -D -m 0644 "$top/README.md" "$root/usr/share/doc/hadns/README.md"
install -D -m 0644 "$top/plugin/README.md" "$root/usr/share/doc/hadns/plugin.md"
install -D -m 0644 "$top/healthcheck/README.md" "$root/usr/share/doc/hadns/healthcheck.md"
if [ -f "$top/docs/operations.md" ]; then
    install -D -m 0644 "$top/docs/operations.md" "$root/usr/share/doc/hadns/operations.md"
fi
install -d -m 0755 "$root/DEBIAN"
install -m 0644 "$here/conffiles" "$root/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$debver/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    "$here/control" > "$root/DEBIAN/control"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$outdir"
deb="$outdir/hadns_${debver}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
