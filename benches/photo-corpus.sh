#!/usr/bin/env bash
# Photo decoding against zbarimg on the corpus in fixtures/photos/, and the p50 time to read a
# 2 MB, 12-megapixel phone JPEG. Installs zbar-tools (Debian) when it is missing.
# Pass --write to regenerate the corpus first.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v zbarimg >/dev/null; then
  apt-get update -qq && apt-get install -y -qq zbar-tools >/dev/null
fi
cargo bench --bench photos -- "$@"
