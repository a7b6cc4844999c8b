#!/usr/bin/env bash
# Make Debian's headless Chromium available for the dashboard browser test (no browser download:
# Playwright drives /usr/bin/chromium). Installs it with apt when running as root; otherwise says how.
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the dashboard test (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; then
    exit 0
  fi
  echo "warning: could not install chromium with apt-get; the browser test will be skipped" >&2
else
  echo "warning: chromium not found; install it (sudo apt-get install chromium) to run the browser test" >&2
fi
exit 0
