#!/usr/bin/env bash
# Same source, same bytes: builds the committed tree (HEAD) twice with
# `make deb` (which makes the release binary first), from two clones at
# different paths, and compares the binaries, their checksums and the
# packages. The Go build cache is shared, so the second
# build mostly reuses compiled packages; the binary is linked again, and
# the different paths show that none of them is recorded (-trimpath).
# Also checks that the binary says the version and commit it was stamped with.
set -euo pipefail

top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
rev=$(git -C "$top" rev-parse HEAD)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

build() { # build DIR
    git clone -q --no-checkout "$top" "$1"
    git -C "$1" -c advice.detachedHead=false checkout -q "$rev"
    make -s -C "$1" deb DIST="$1/dist" >/dev/null
}
build "$tmp/a"
build "$tmp/second-clone"

a=$(find "$tmp/a/dist" -name 'hadns-*' ! -name '*.sha256')
b=$(find "$tmp/second-clone/dist" -name 'hadns-*' ! -name '*.sha256')
if ! cmp -s "$a" "$b"; then
    echo "release builds differ: $a $b" >&2
    cmp -l "$a" "$b" | head >&2 || true
    exit 1
fi
if ! cmp -s "$a.sha256" "$b.sha256"; then
    echo "checksum files differ" >&2
    exit 1
fi
(cd "$tmp/a/dist" && sha256sum -c --quiet "$(basename "$a").sha256")
da=$(find "$tmp/a/dist" -name '*.deb')
db=$(find "$tmp/second-clone/dist" -name '*.deb')
if [ "$(basename "$da")" != "$(basename "$db")" ] || ! cmp -s "$da" "$db"; then
    echo "packages differ: $da $db" >&2
    exit 1
fi

version=$(git -C "$tmp/a" describe --tags --always --dirty)
want="hadns $version (commit $rev)"
if [ "$("$a" -version | head -1)" != "$want" ]; then
    echo "hadns -version says '$("$a" -version | head -1)', want '$want'" >&2
    exit 1
fi
if [ "$(go version -m "$a" | awk '$2 == "CGO_ENABLED=0"' | wc -l)" != 1 ]; then
    echo "$a: not built with CGO_ENABLED=0" >&2
    exit 1
fi
echo "reproducible: $(basename "$a") $(cut -d' ' -f1 "$a.sha256")"
echo "reproducible: $(basename "$da") $(sha256sum "$da" | cut -d' ' -f1)"
