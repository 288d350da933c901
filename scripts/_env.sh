# Shared by scripts/run and scripts/test (sourced, not executed): find the repository, make sure
# .venv exists with a Python new enough, and install the project into it when pyproject changes.
#
# Knobs (environment variables):
#   PYTHON            interpreter used to create .venv (default: python3)
#   STATION_VENV      where the virtual environment lives (default: <repo>/.venv)
#   STATION_REINSTALL set to 1 to reinstall the project even if pyproject.toml did not change

MINIMUM_PYTHON="3.11"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STATION_VENV:-$REPO_ROOT/.venv}"
cd "$REPO_ROOT"

say() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Exit 0 if the interpreter $1 is at least MINIMUM_PYTHON.
python_is_recent_enough() {
    "$1" -c "import sys; sys.exit(0 if sys.version_info >= (${MINIMUM_PYTHON/./, }) else 1)" 2>/dev/null
}

ensure_venv() {
    if [[ -x "$VENV/bin/python" ]] && python_is_recent_enough "$VENV/bin/python"; then
        return
    fi
    local python="${PYTHON:-python3}"
    command -v "$python" >/dev/null 2>&1 \
        || die "'$python' not found. Install Python $MINIMUM_PYTHON or newer (Debian: apt-get install python3 python3-venv), or set PYTHON=/path/to/python3."
    if ! python_is_recent_enough "$python"; then
        die "$("$python" --version 2>&1) at $(command -v "$python") is too old: the station needs Python $MINIMUM_PYTHON or newer. Set PYTHON=/path/to/python3.11 (or newer)."
    fi
    if [[ -e "$VENV" ]]; then
        say "recreating $VENV (its Python is missing or older than $MINIMUM_PYTHON)"
    else
        say "creating $VENV with $("$python" --version 2>&1)"
    fi
    "$python" -m venv --clear "$VENV" \
        || die "could not create $VENV (Debian: apt-get install python3-venv)"
}

# ensure_installed EXTRAS: pip install -e ".[EXTRAS]" (or "." when EXTRAS is empty), skipped when a
# stamp shows the same pyproject.toml was already installed with those extras. The install is
# editable, so source edits never need a reinstall; only dependency or entry-point changes do.
ensure_installed() {
    local extras="$1"
    local target="."
    [[ -n "$extras" ]] && target=".[$extras]"
    local fingerprint
    fingerprint="$("$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest(), sys.version)')"
    local stamp="$VENV/.station-installed${extras:+-$extras}"
    if [[ "${STATION_REINSTALL:-0}" != "1" && -f "$stamp" && "$(cat "$stamp")" == "$fingerprint" ]] \
        && "$VENV/bin/python" -I -c 'import importlib.metadata as m; m.version("provisioning-station")' 2>/dev/null; then
        return
    fi
    say "installing the project into $VENV (pip install -e '$target')"
    # pip's and the build backend's chatter goes to a log that is shown only when the install fails.
    local log="$VENV/pip-install.log"
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
        -e "$target" </dev/null >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        die "pip install -e '$target' failed (last lines above; full log in $log)"
    fi
    printf '%s\n' "$fingerprint" >"$stamp"
}
