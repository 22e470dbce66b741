#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the browser tests (test/process/*dashboard*, the report pages),
# which drive it headless through playwright-core. Idempotent: does nothing when a chromium is already there.
#   - CHATTERBOX_CHROMIUM names an executable, or `chromium` is on PATH: nothing to do.
#   - root: `apt-get install -y chromium`; if that fails (a fresh image has no package lists), `apt-get update`
#     and install again.
#   - not root and missing: one line saying how to install it, exit status 1.
set -euo pipefail

if [[ -n "${CHATTERBOX_CHROMIUM:-}" && -x "${CHATTERBOX_CHROMIUM}" ]]; then exit 0; fi
if command -v chromium >/dev/null 2>&1; then exit 0; fi

if [[ "$(id -u)" != 0 ]]; then
  echo "install-browser: chromium is missing; install it with 'sudo apt-get install -y chromium' (or set CHATTERBOX_CHROMIUM to a Chromium executable)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: chromium is missing and this is not a Debian-like system (no apt-get); set CHATTERBOX_CHROMIUM to a Chromium executable" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-browser: installing Debian's chromium for the browser tests" >&2
if ! apt-get install -y chromium >/dev/null; then
  apt-get update >/dev/null
  apt-get install -y chromium >/dev/null
fi
command -v chromium >/dev/null 2>&1
