#!/usr/bin/env bash
# Make Debian tools the device tests use available: socat (a pty pair for the serial RTU test) and mbpoll
# (libmodbus' command-line client, an independent reader of the simulated meters). Installs the missing ones
# with apt-get when running as root; otherwise says how (the tests then skip with a message).
set -u
missing=()
for tool in "$@"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian packages for the device tests: ${missing[*]} (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
     || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; }; then
    exit 0
  fi
  echo "warning: could not install ${missing[*]} with apt-get; those tests will be skipped" >&2
else
  echo "warning: ${missing[*]} not found; install them (sudo apt-get install ${missing[*]}) to run those tests" >&2
fi
exit 0
