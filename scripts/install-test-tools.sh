#!/usr/bin/env bash
# Installs the Debian packages the tests run (only those missing): xmllint checks CAP
# messages against the OASIS schema; HAProxy balances three servers; poppler-utils reads
# printed PDFs back; Chromium and
# ChromeDriver run the pages' tests (Debian's, never a browser a test tool downloads).
set -euo pipefail
missing=()
command -v xmllint >/dev/null || missing+=(libxml2-utils)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
# pdftotext, pdffonts and pdftoppm read the printed codes' PDF back as a print shop would.
command -v pdftoppm >/dev/null || missing+=(poppler-utils)
# HAProxy in front of three servers (tests/api/cluster.rs, scripts/haproxy.sh).
command -v haproxy >/dev/null || missing+=(haproxy)
# A CJK font, so that screenshots of the Chinese pages show characters, not boxes.
fc-list 2>/dev/null | grep -qi -e wqy -e 'noto.*cjk' || missing+=(fonts-wqy-microhei)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

