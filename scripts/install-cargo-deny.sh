#!/usr/bin/env bash
# cargo-deny checks the dependencies' licences, bans and sources in .ci/run; built from crates.io
# once, when missing.
set -euo pipefail
if ! command -v cargo-deny >/dev/null; then
  echo "installing cargo-deny"
  cargo install --locked cargo-deny@0.20.2
fi
