#!/usr/bin/env bash
# Executes deepgo's notebooks from top to bottom, headlessly, with the GoNB
# Jupyter kernel (and gophernotes/*.ipynb with the gophernotes kernel, when
# gophernotes/build.sh has built one), and exits non-zero when a cell fails.
#
#   examples/notebooks/run.sh                    # every notebook here
#   examples/notebooks/run.sh tour.ipynb         # some of them
#   examples/notebooks/run.sh --setup            # install and build only
#   examples/notebooks/run.sh --clear            # clear the outputs in place
#
# It installs what it needs, each step skipped when already done:
#   1. Jupyter from Debian (jupyter-nbconvert, jupyter-client and the
#      Python modules under them) with apt-get;
#   2. GoNB, goimports and gopls at the versions pinned in tools/go.mod,
#      built with `go install tool` into $DEEPGO_NOTEBOOKS_CACHE/bin;
#   3. GoNB's kernel spec, in a Jupyter data folder of its own
#      ($DEEPGO_NOTEBOOKS_CACHE/jupyter), so ~/.local/share/jupyter is left alone;
# then checks that the notebooks are committed without outputs and runs each
# with `jupyter nbconvert --to notebook --execute`. The executed copies, with
# their outputs (plots included), go to $DEEPGO_NOTEBOOKS_CACHE/out.
#
# The notebooks use this checkout of deepgo (DEEPGO_DIR, set below), not a
# published version.
#
# Environment:
#   DEEPGO_NOTEBOOKS_CACHE  tools, kernel spec, logs and executed notebooks
#                           (default ${XDG_CACHE_HOME:-$HOME/.cache}/deepgo-notebooks);
#                           delete it to start afresh
#   DEEPGO_NOTEBOOKS_NO_APT set to 1 to skip apt-get (Jupyter must then be there)
#   DEEPGO_NOTEBOOKS_TIMEOUT seconds a cell may run (default 1200)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${DEEPGO_NOTEBOOKS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/deepgo-notebooks}
bin=$cache/bin
timeout=${DEEPGO_NOTEBOOKS_TIMEOUT:-1200}
# Debian's Python and Jupyter, by absolute path: the python3 first on PATH
# may be another one (pyenv, a virtual environment) without these modules.
py=/usr/bin/python3
nbconvert=/usr/bin/jupyter-nbconvert

mode=run
notebooks=()
for arg in "$@"; do
	case $arg in
	--setup) mode=setup ;;
	--clear) mode=clear ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "run.sh: unknown flag $arg (see --help)" >&2
		exit 2
		;;
	*) notebooks+=("$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")") ;;
	esac
done
if [[ ${#notebooks[@]} -eq 0 ]]; then
	notebooks=("$here"/*.ipynb)
	# The gophernotes notebooks run when gophernotes/build.sh has built
	# the kernel (it needs a clone of gophernotes; see README.md).
	if [[ $mode == clear || ( -x $cache/bin/gophernotes && -f $cache/jupyter/kernels/gophernotes/kernel.json ) ]]; then
		notebooks+=("$here"/gophernotes/*.ipynb)
	else
		skipped_gophernotes=1
	fi
fi

step() { echo "== $*"; }

# 1. Jupyter from Debian.
apt_packages=(jupyter-nbconvert python3-nbconvert python3-nbclient python3-nbformat jupyter-client python3-jupyter-client)
missing=()
for p in "${apt_packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
	if [[ ${DEEPGO_NOTEBOOKS_NO_APT:-} == 1 ]]; then
		echo "run.sh: missing Debian packages ${missing[*]} (and DEEPGO_NOTEBOOKS_NO_APT=1)" >&2
		exit 1
	fi
	step "apt-get install ${missing[*]}"
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then
		sudo=sudo
	fi
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ $mode == clear ]]; then
	for nb in "${notebooks[@]}"; do
		"$nbconvert" --log-level=WARN --clear-output "$nb"
		echo "cleared $nb"
	done
	exit 0
fi

# 2. GoNB, goimports and gopls, rebuilt when tools/go.mod, tools/go.sum or
# the Go version change.
stamp="$(go version) $(cat "$here/tools/go.mod" "$here/tools/go.sum" | sha256sum | cut -c1-16)"
if [[ ! -x $bin/gonb || ! -x $bin/goimports || ! -x $bin/gopls || "$(cat "$bin/.stamp" 2>/dev/null)" != "$stamp" ]]; then
	step "go install tool (GoNB, goimports, gopls from tools/go.mod) into $bin"
	start=$SECONDS
	mkdir -p "$bin"
	(cd "$here/tools" && GOBIN="$bin" GOFLAGS=-mod=readonly go install tool)
	echo "$stamp" >"$bin/.stamp"
	echo "built in $((SECONDS - start))s"
fi
export PATH="$bin:$PATH"

# 3. GoNB's kernel spec, in our own Jupyter data folder. Its logs go to
# $cache/log; cell errors show in the notebooks and below.
export JUPYTER_DATA_DIR=$cache/jupyter
mkdir -p "$cache/log"
if ! gonb_log=$(gonb --install --raw_error --logtostderr=false --log_dir="$cache/log" --stderrthreshold=FATAL 2>&1); then
	echo "$gonb_log" >&2
	exit 1
fi
step "GoNB $(go version -m "$bin/gonb" | awk '$1 == "mod" { print $3 }') kernel in $JUPYTER_DATA_DIR/kernels/gonb; $("$bin/gopls" version | head -n 1); $(go version)"

if [[ $mode == setup ]]; then
	exit 0
fi

# 4. The notebooks are committed without outputs.
if ! "$py" - "${notebooks[@]}" <<'EOF'; then
import sys, nbformat
bad = []
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    if any(c.cell_type == "code" and (c.outputs or c.execution_count is not None) for c in nb.cells):
        bad.append(path)
for path in bad:
    print(f"{path} holds outputs: clear them before committing (examples/notebooks/run.sh --clear)", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
	exit 1
fi

# 5. Execute them.
export DEEPGO_DIR=$root
export PYDEVD_DISABLE_FILE_VALIDATION=1
out=$cache/out
mkdir -p "$out"
passed=0
failed=0
total_start=$SECONDS
for nb in "${notebooks[@]}"; do
	name=${nb#"$here"/} # tour.ipynb, gophernotes/tour.ipynb, ...
	if [[ $name == /* ]]; then
		name=$(basename "$nb") # a notebook from elsewhere
	fi
	dest=$out/$name
	mkdir -p "$(dirname "$dest")"
	step "jupyter nbconvert --to notebook --execute $name"
	start=$SECONDS
	rc=0
	# --allow-errors keeps the outputs of a failing cell (a panic's message
	# and stack) in the executed copy, so the check below can print them.
	"$nbconvert" --log-level=WARN --to notebook --execute --allow-errors \
		--ExecutePreprocessor.timeout="$timeout" \
		--output-dir "$(dirname "$dest")" "$nb" || rc=$?
	if [[ $rc -eq 0 ]] && "$py" - "$dest" <<'EOF'; then
import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
bad = 0
for i, c in enumerate(nb.cells):
    if c.cell_type != "code":
        continue
    errors = [o for o in c.outputs if o.output_type == "error"]
    if c.execution_count is None or errors:
        bad += 1
        print(f"--- cell {i} {'failed' if errors else 'did not run'}:\n{c.source}\n--- its output:", file=sys.stderr)
        for o in c.outputs:
            if o.output_type == "stream":
                print(o.text, end="", file=sys.stderr)
            elif o.output_type == "error":
                print(f"{o.ename}: {o.evalue}", file=sys.stderr)
        if bad == 1:
            print("--- (later cells may fail because of this one)", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
		passed=$((passed + 1))
		echo "ok $name in $((SECONDS - start))s ($dest)"
	else
		failed=$((failed + 1))
		echo "FAILED $name after $((SECONDS - start))s (executed copy: $dest; GoNB's logs: $cache/log)" >&2
	fi
done
# gophernotes leaves its plugins of deepgo under its GOPATH (see
# gophernotes/build.sh).
rm -rf "$cache/gomacro-gopath/src/gomacro.imports"
if [[ -n ${skipped_gophernotes:-} ]]; then
	echo "(gophernotes/*.ipynb skipped: no gophernotes kernel; gophernotes/build.sh builds one, see README.md)"
fi
echo "notebooks took $((SECONDS - total_start))s"
echo "notebooks: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
