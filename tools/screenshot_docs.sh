#!/usr/bin/env bash
# Headless-Chromium screenshot of a docs page, to check by eye that math is typeset,
# figures show and the navigation is there (e.g. after `python tools/render_docs.py`).
#
#   tools/screenshot_docs.sh _offline_docs/index.html /tmp/index.png [WIDTHxHEIGHT]
#
# Needs Debian's chromium: apt-get update && apt-get install -y chromium
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 PAGE.html OUT.png [WIDTHxHEIGHT (default 1280x2000)]" >&2
  exit 2
fi
page=$1 out=$2 size=${3:-1280x2000}
[ -f "$page" ] || { echo "$0: no such page: $page" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "$0: chromium not found (apt-get install -y chromium)" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
url="file://$(realpath "$page")"
mkdir -p "$(dirname "$out")"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile" --virtual-time-budget=10000 \
  --window-size="${size/x/,}" --screenshot="$(realpath -m "$out")" "$url" 2>/dev/null
[ -s "$out" ] || { echo "$0: no screenshot written" >&2; exit 1; }
echo "$out"
