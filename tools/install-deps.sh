#!/usr/bin/env bash
# Install what the project needs and is missing: Debian packages (PostgreSQL 15 with
# PL/Python and PGXS, a C compiler, the server-side Python packages, Prometheus for tests), then the
# project's virtualenv. Safe to re-run; does nothing when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

# gcc and libc6-dev build the planner library (src/) with PGXS; python3-yaml parses rule files (extension/promscale/rules)
SERVER_PACKAGES=(postgresql-15 postgresql-client-15 postgresql-plpython3-15 postgresql-server-dev-15 python3-numpy python3-yaml
                 python3-pip gcc libc6-dev)
# PromQL regexes run on RE2 (linear time): Debian has no package of its Python bindings, so the
# server's Python (the one PL/Python embeds, not the virtualenv's) gets them from PyPI
SERVER_PIP_PACKAGE="google-re2==1.1.20251105"
# PromQL's JSON formats a range query's values with orjson, in one C call (promql/api.py
# value_texts; Debian has no package of it)
SERVER_JSON_PACKAGE="orjson==3.13.0"
SERVER_PYTHON=/usr/bin/python3
# The build (tools/build_extension.py, run by HOST_PYTHON) splits the SQL sources into statements
# with sqlglot's PostgreSQL tokenizer to check the grants (docs/development.md). Debian's
# python3-sqlglot (10.x) does not know dollar-quote tags ($python$ ... $python$): from PyPI.
BUILD_PIP_PACKAGE="sqlglot==30.31.0"
# chromium and chromium-driver: the web UI tests drive a real headless browser (tests/ui);
# prometheus-alertmanager: the rules' Alertmanager test (tests/rules);
# openssl: the TLS tests make their certificates with its command line
TEST_PACKAGES=(prometheus prometheus-node-exporter prometheus-alertmanager postgresql-15-cron chromium chromium-driver fonts-dejavu-core openssl)
VENV=${VENV:-.venv}
PYTHON=${HOST_PYTHON:-python3}

want=("${SERVER_PACKAGES[@]}")
[ "${1:-}" = "--server-only" ] || want+=("${TEST_PACKAGES[@]}")

missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # the Debian packages would start their own clusters and services; we run our own
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! "$SERVER_PYTHON" -c "import re2" 2>/dev/null; then
    echo "installing $SERVER_PIP_PACKAGE for the server's Python"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO "$SERVER_PYTHON" -m pip install -q --break-system-packages --root-user-action=ignore "$SERVER_PIP_PACKAGE"
fi
if ! "$SERVER_PYTHON" -c "import orjson" 2>/dev/null; then
    echo "installing $SERVER_JSON_PACKAGE for the server's Python"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO "$SERVER_PYTHON" -m pip install -q --break-system-packages --root-user-action=ignore "$SERVER_JSON_PACKAGE"
fi
if ! "$PYTHON" -c "import sqlglot" 2>/dev/null; then
    echo "installing $BUILD_PIP_PACKAGE for the build's Python ($PYTHON)"
    SUDO=""; [ "$(id -u)" -eq 0 ] || [ -w "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" ] || SUDO="sudo"
    $SUDO "$PYTHON" -m pip install -q --break-system-packages --root-user-action=ignore "$BUILD_PIP_PACKAGE"
fi
[ "${1:-}" = "--server-only" ] && exit 0

stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[test]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi
