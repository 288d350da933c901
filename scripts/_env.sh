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

# ensure_installed EXTRAS: pip install -e ".[EXTRAS]" (or "." when EXTRAS is empty; EXTRAS may list several,
# comma-separated), skipped when the one stamp, shared by scripts/run and scripts/test, shows the same
# pyproject.toml already installed with at least those extras: `./scripts/run` after `./scripts/test` installs
# nothing (the test extras include everything the station needs). An install keeps the extras installed before
# it, so the two scripts never undo each other. The install is editable, so source edits never need a
# reinstall; only dependency or entry-point changes do.
STAMP_NAME=".station-installed"

# Exit 0 if every extra of the comma-separated list $2 is in the comma-separated list $1.
extras_cover() {
    local have=",$1," extra
    local -a wanted
    IFS=, read -r -a wanted <<<"$2"
    for extra in "${wanted[@]}"; do
        [[ -z "$extra" || "$have" == *",$extra,"* ]] || return 1
    done
}

# The comma-separated union of the lists $1 and $2, sorted, without empties.
extras_union() {
    printf '%s\n' "$1,$2" | tr ',' '\n' | sed '/^$/d' | LC_ALL=C sort -u | paste -sd, -
}

ensure_installed() {
    local wanted="$1"
    local stamp="$VENV/$STAMP_NAME"
    local fingerprint
    fingerprint="$("$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest(), sys.version)')"
    # The stamp: the fingerprint on its first line, the extras installed (comma-separated) on its second.
    local installed_fingerprint="" installed_extras=""
    if [[ -f "$stamp" ]]; then
        { IFS= read -r installed_fingerprint || true; IFS= read -r installed_extras || true; } <"$stamp"
    fi
    if [[ "${STATION_REINSTALL:-0}" != "1" && "$installed_fingerprint" == "$fingerprint" ]] \
        && extras_cover "$installed_extras" "$wanted" \
        && "$VENV/bin/python" -I -c 'import importlib.metadata as m; m.version("provisioning-station")' 2>/dev/null; then
        return
    fi
    local extras
    extras="$(extras_union "$installed_extras" "$wanted")"
    local target="."
    [[ -n "$extras" ]] && target=".[$extras]"
    say "installing the project into $VENV (pip install -e '$target')"
    # pip's and the build backend's chatter goes to a log that is shown only when the install fails.
    local log="$VENV/pip-install.log"
    if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
        -e "$target" </dev/null >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        die "pip install -e '$target' failed (last lines above; full log in $log)"
    fi
    printf '%s\n%s\n' "$fingerprint" "$extras" >"$stamp"
    rm -f "$VENV/$STAMP_NAME"-*  # the per-extras stamps of earlier versions of these scripts
}

debian_package_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Install what is missing of REQUIRED_DEBIAN_PACKAGES and OPTIONAL_DEBIAN_PACKAGES when root
# (else say what to install); never fails the run: MISSING_PACKAGES_MEAN says what is lost.
ensure_debian_packages() {
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        say "no apt on this machine: not installing ${REQUIRED_DEBIAN_PACKAGES[*]} ${OPTIONAL_DEBIAN_PACKAGES[*]}"
        return
    fi
    local missing_required=() missing_optional=() package
    for package in "${REQUIRED_DEBIAN_PACKAGES[@]}"; do
        debian_package_installed "$package" || missing_required+=("$package")
    done
    for package in "${OPTIONAL_DEBIAN_PACKAGES[@]}"; do
        debian_package_installed "$package" || missing_optional+=("$package")
    done
    local missing=("${missing_required[@]}" "${missing_optional[@]}")
    [[ ${#missing[@]} -eq 0 ]] && return
    if [[ "$(id -u)" -ne 0 || -n "${STATION_NO_APT:-}" ]]; then  # STATION_NO_APT=1: name them, install nothing
        if [[ ${#missing_required[@]} -gt 0 ]]; then
            warn "Debian packages missing: ${missing_required[*]}; ${MISSING_PACKAGES_MEAN}." \
                "Install with: sudo apt-get install ${missing_required[*]}"
        fi
        return
    fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get update -qq </dev/null >/dev/null; then
        warn "apt-get update failed; not installing ${missing[*]}"
        return
    fi
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null; then
        # One bad optional package must not cost the required ones.
        if [[ ${#missing_required[@]} -eq 0 ]] \
            || ! apt-get install -y -qq --no-install-recommends "${missing_required[@]}" </dev/null >/dev/null; then
            warn "apt-get install failed for some of: ${missing[*]}; ${MISSING_PACKAGES_MEAN}"
        fi
    fi
}
