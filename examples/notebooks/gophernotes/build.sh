#!/usr/bin/env bash
# Builds a gophernotes Jupyter kernel that runs on Go 1.26 and imports
# deepgo, and installs its kernel spec next to GoNB's, so that ../run.sh
# also executes the notebooks in this folder.
#
#   git clone https://github.com/gopherdata/gophernotes /tmp/gophernotes   # master, 5514204 or later
#   examples/notebooks/gophernotes/build.sh /tmp/gophernotes
#   examples/notebooks/run.sh
#
# The released gophernotes (v0.7.5, the newest the Go module proxy serves)
# cannot be used on Go 1.26; see ../README.md for what fails and why. This
# script builds gophernotes' master branch (which the module proxy does not
# serve, hence the clone) with:
#   - gomacro at its newest commit (2ff796e, May 2024), which skips generic
#     declarations when importing a package instead of crashing on them;
#   - golang.org/x/tools v0.36.0: the x/tools gomacro asks for (v0.14.0)
#     does not compile on Go 1.26, and v0.36.0 is the newest whose
#     requirements stay at or below deepgo's;
#   - every module it shares with deepgo at deepgo's version (deepgo is
#     added as a requirement while resolving): gomacro compiles each import
#     into a Go plugin, and Go refuses a plugin built with another version
#     of a package the kernel also contains ("plugin was built with a
#     different version of package golang.org/x/text/transform").
# Rebuild it after deepgo's go.mod changes.
#
# The kernel spec sets, for the kernel only:
#   GODEBUG=gotypesalias=0  gomacro predates types.Alias (Go 1.22) and
#                           panics on it;
#   GOPROXY=<your proxies, "direct" left out, joined by |>|off
#                           gomacro runs `go get` on the imported packages;
#                           a proxy that refuses (rather than "not found")
#                           the unpublished github.com/deepgo/deepgo, or a
#                           failing "direct", would stop it before the
#                           replace directive to this checkout applies: "|"
#                           falls through on a proxy's error, and "off"
#                           ends in "not found";
#   GOPATH=<cache>/gomacro-gopath, GOMODCACHE as before: gomacro writes
#                           its plugins (35 MB a session) under
#                           $GOPATH/src/gomacro.imports; run.sh empties it.
#
# Environment: DEEPGO_NOTEBOOKS_CACHE as for ../run.sh.
set -euo pipefail

if [[ $# -ne 1 || ! -f $1/go.mod ]] || ! grep -q '^module github.com/gopherdata/gophernotes$' "$1/go.mod"; then
	echo "usage: $0 GOPHERNOTES_SOURCE_DIR (a clone of github.com/gopherdata/gophernotes)" >&2
	exit 2
fi
src=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cache=${DEEPGO_NOTEBOOKS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/deepgo-notebooks}
gomacro=github.com/cosmos72/gomacro@v0.0.0-20240506194242-2ff796e3da10
xtools=golang.org/x/tools@v0.36.0

build=$cache/gophernotes-build
rm -rf "$build"
mkdir -p "$build" "$cache/bin"
(cd "$src" && tar --exclude=.git -cf - .) | (cd "$build" && tar -xf -)
cd "$build"
echo "== building gophernotes $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '(not a git checkout)') with $gomacro, $xtools, deepgo's versions of shared modules"
# The checksum database may not know gomacro's pseudo-versions (the module
# proxy serves them); go.sum then records what the proxy served.
export GONOSUMDB=${GONOSUMDB:+$GONOSUMDB,}github.com/cosmos72/gomacro
go mod edit -replace "github.com/deepgo/deepgo=$root" -require github.com/deepgo/deepgo@v0.0.0-00010101000000-000000000000
go get "$gomacro" "$xtools"
go mod tidy
go build -o "$cache/bin/gophernotes" .

# Check that the modules the kernel and deepgo share have the same versions.
mismatch=$(join <(go version -m "$cache/bin/gophernotes" | awk '$1 == "dep" { print $2, $3 }' | sort) \
	<(cd "$root" && go list -deps -f '{{with .Module}}{{.Path}} {{.Version}}{{end}}' ./... | awk 'NF == 2' | sort -u) |
	awk '$2 != $3')
if [[ -n $mismatch ]]; then
	echo "gophernotes and deepgo need different versions of (module, gophernotes, deepgo):" >&2
	echo "$mismatch" >&2
	echo "plugins of deepgo would not load; raise these in deepgo's go.mod or pin older ones here" >&2
	exit 1
fi

kernel=$cache/jupyter/kernels/gophernotes
mkdir -p "$kernel" "$cache/gomacro-gopath"
# The kernel's GOPROXY: your proxies without "direct", joined by "|", then
# "off" (see above).
proxies=$(go env GOPROXY | tr ',|' '\n\n' | grep -v -x -e direct -e off -e '' | tr '\n' '|' || true)
(cd "$root" && go mod download) # what gomacro's plugins of deepgo need, in the module cache
GOPROXY_KERNEL="${proxies}off" GOPATH_KERNEL="$cache/gomacro-gopath" GOMODCACHE_KERNEL="$(go env GOMODCACHE)" \
	BIN="$cache/bin/gophernotes" /usr/bin/python3 - "$kernel/kernel.json" <<'EOF'
import json, os, sys
spec = {
    "argv": [os.environ["BIN"], "{connection_file}"],
    "display_name": "Go (gophernotes)",
    "language": "go",
    "name": "gophernotes",
    "env": {
        "GODEBUG": "gotypesalias=0",
        "GOPROXY": os.environ["GOPROXY_KERNEL"],
        "GOPATH": os.environ["GOPATH_KERNEL"],
        "GOMODCACHE": os.environ["GOMODCACHE_KERNEL"],
    },
}
with open(sys.argv[1], "w") as f:
    json.dump(spec, f, indent=1)
EOF
echo "built $cache/bin/gophernotes; kernel spec $kernel/kernel.json"
