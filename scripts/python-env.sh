# Sourced by scripts/serve and scripts/test, with ROOT set to the repository: where Python
# packages go. Debian's own python3 refuses `pip install` outside a virtual environment (PEP 668,
# "externally-managed-environment"), so on such a system the scripts use ./.venv, created on
# first use. Afterwards `python3`, `pip`, `ocpp-exporter`, `ruff` and `pytest` on PATH are that
# environment's.

# Installs Debian packages, as root or through sudo.
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: $*"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# True when python3 is a system Python that refuses pip installs (and no venv is active).
externally_managed() {
  python3 - <<'PY'
import os
import sys
import sysconfig

in_venv = sys.prefix != sys.base_prefix
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
sys.exit(0 if not in_venv and os.path.exists(marker) else 1)
PY
}

# Uses ./.venv, creating it if needed (an active virtual environment is used as it is).
use_venv() {
  if [ -n "${VIRTUAL_ENV:-}" ]; then
    return
  fi
  if [ ! -x "$ROOT/.venv/bin/python3" ]; then
    command -v python3 >/dev/null || apt_install python3
    # Debian ships venv's pip bootstrap separately.
    python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
    echo "creating a virtual environment in .venv (Python packages go there, not into the system)"
    python3 -m venv "$ROOT/.venv"
  fi
  export VIRTUAL_ENV="$ROOT/.venv"
  export PATH="$VIRTUAL_ENV/bin:$PATH"
}

# Installs the package into the virtual environment (with `extras`, e.g. "[test]") unless this
# checkout's pyproject.toml was installed already. Editable: the checkout's code is what runs.
install_package() {
  local extras="${1:-}"
  local stamp="$VIRTUAL_ENV/.ocpp-exporter-installed"
  local want
  want="$ROOT$(cat "$ROOT/pyproject.toml")${extras}"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  echo "installing ocpp-exporter${extras} into $VIRTUAL_ENV"
  python3 -m pip install --quiet --disable-pip-version-check -e "$ROOT${extras}"
  printf '%s' "$want" >"$stamp"
}
