#!/usr/bin/env bash
# Install everything the test suite needs, then run the linters and the whole test suite.
#
#   ./scripts/test.sh            # everything (what CI runs)
#   ./scripts/test.sh -k rotate  # extra arguments go to pytest
#
# Installs: Debian packages for the real tools the tests drive (logrotate, cron, shellcheck, GoAccess,
# cloud-init, Chromium, Prometheus for promtool, prometheus-node-exporter, nginx and Apache httpd (real servers'
# error and access logs), docker.io and debootstrap for the image tests), a virtualenv .venv with edgelog and its
# test extras, and checkov in its own virtualenv .venv-checkov (checkov pins old libraries that conflict with
# pytest's). The image tests (tests/test_images.py) start their own Docker daemon and need root.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(logrotate cron shellcheck goaccess cloud-init chromium gzip procps python3-venv jq curl systemd fonts-liberation fonts-dejavu-core prometheus prometheus-node-exporter nginx docker.io debootstrap time apache2)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo); fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
echo "==> installing edgelog with test and dev extras"
.venv/bin/python -m pip install -q --upgrade pip
# Runtime dependencies at exactly the versions the images install (log-generator/constraints.txt), so the
# tests run what ships and a new upstream release cannot change the result on its own.
.venv/bin/python -m pip install -q -c log-generator/constraints.txt -e '.[dev]'

if [[ ! -x .venv-checkov/bin/checkov ]]; then
  echo "==> installing checkov in .venv-checkov"
  python3 -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install -q checkov
fi

export PATH="$PWD/.venv/bin:$PATH"
export EDGELOG_CHECKOV="$PWD/.venv-checkov/bin/checkov"

echo "==> ruff"
ruff check .
ruff format --check .

echo "==> mypy"
mypy

echo "==> pytest"
exec pytest --slow -n 0 "$@"  # the whole suite, serially (the real-tool tests were never checked side by side)
