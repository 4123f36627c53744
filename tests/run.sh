#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it. Used by the README and by
# .ci/run. Extra arguments go to pytest (e.g. `bash tests/run.sh -k model`).
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# The browser tests drive Debian's Chromium (Playwright's own browser download does not
# work offline; see tests/e2e/conftest.py); tests/test_deploy.py runs Debian's nginx in
# front of the app (deploy/serve.py). nginx lives in /usr/sbin, which a normal user's PATH
# may lack. tests/test_board_postgres.py starts a throwaway PostgreSQL server with Debian's
# binaries (/usr/lib/postgresql/*/bin). One apt-get update for all.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

set +e
python -m pytest "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests: treating that as a failure" >&2
  exit 1
fi
exit "$code"
