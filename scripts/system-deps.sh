#!/usr/bin/env bash
# Install the Debian packages that the integration tests use. As root this runs
# apt-get; otherwise it only reports what is missing (tests that need a missing
# program fail with a message naming it).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t wanted < <(grep -v -e '^#' -e '^\s*$' scripts/debian-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "Debian packages the tests use are missing: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
fi
