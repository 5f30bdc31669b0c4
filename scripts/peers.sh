#!/usr/bin/env bash
# Side-by-side run of persist against the Python tools our users come from
# (numpy, pickle, joblib, dman, persistable, neuralib.persistence); see
# "Against the Python tools" in PERFORMANCE.md.
#
#   scripts/peers.sh            # full sizes: 256 MB array, 10,000 records, 2,000 autoinc saves, 3 rounds
#   scripts/peers.sh --quick    # about a minute
#   scripts/peers.sh --rounds 5 --only save_big,load_big --tools persist,persist-fast,numpy
#
# Makes a venv in $PEERS_VENV (default ~/.cache/persist/peers-venv) with
# Python 3.11 when there is one, installs the tools from PyPI (a tool that does
# not install is reported as "not installed" in the table), builds the persist
# side (`cargo bench -p persist-core --bench peers --no-run`) and runs
# scripts/peers/peers.py with the remaining arguments.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${PEERS_VENV:-$HOME/.cache/persist/peers-venv}

# The versions of the published run; PEERS_UNPINNED=1 takes the newest.
pins=(numpy==2.4.6 joblib==1.6.0 dman==1.0.1 persistable==1.3.1 neura-library==0.6.1)

if [[ ! -x $venv/bin/python ]]; then
    if command -v python3.11 >/dev/null; then
        python=python3.11
    else
        python=python3
    fi
    echo "peers: creating $venv with $($python --version)" >&2
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
fi

log=$venv/peers-install.log
: >"$log"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
for spec in "${pins[@]}"; do
    if [[ ${PEERS_UNPINNED:-} == 1 ]]; then
        spec=${spec%%==*}
    fi
    # One at a time: a tool that does not install must not keep the others out.
    if ! "${pip[@]}" install "$spec" >>"$log" 2>&1; then
        echo "peers: pip could not install $spec (see $log); it is shown as not installed" >&2
    fi
done

echo "peers: building the persist side" >&2
bin=$(cd "$root" && cargo bench -p persist-core --bench peers --no-run --message-format=json |
    "$venv/bin/python" -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "peers" and m.get("executable"):
        print(m["executable"])
')
if [[ -z $bin || ! -x $bin ]]; then
    echo "peers: could not build the persist side; run: cargo bench -p persist-core --bench peers --no-run" >&2
    exit 1
fi

exec "$venv/bin/python" "$root/scripts/peers/peers.py" run --bin "$bin" "$@"
