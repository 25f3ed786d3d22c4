#!/usr/bin/env bash
# Installs the Debian packages the tests run (only those missing): xmllint checks CAP
# messages against the OASIS schema.
set -euo pipefail
missing=()
command -v xmllint >/dev/null || missing+=(libxml2-utils)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
  { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
