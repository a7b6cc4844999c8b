#!/usr/bin/env bash
# Make Debian's PostgreSQL server binaries available for the store tests on PostgreSQL (the tests start
# and stop their own throw-away server in a temporary directory on a free loopback port; nothing is
# started here). Installs the package with apt when running as root; otherwise says how.
set -u
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's postgresql for the store tests (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; then
    exit 0
  fi
  echo "warning: could not install postgresql with apt-get; the PostgreSQL store tests will be skipped" >&2
else
  echo "warning: PostgreSQL not found; install it (sudo apt-get install postgresql) to run the PostgreSQL store tests" >&2
fi
exit 0
