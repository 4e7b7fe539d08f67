#!/usr/bin/env bash
# System tools the tests and the data engine use: Debian's espeak-ng and festival voices (speech
# synthesis with phone timings), sox, Mono's C# compiler (checks the Unity package's C#), Blender (runs
# the add-on headless; its glTF importer needs python3-numpy), Chromium and its WebDriver (the serve page's
# browser test), and the Khronos glTF validator from npm.
# Installs what is missing when it can (root + apt-get); otherwise says what to install.
set -uo pipefail
cd "$(dirname "$0")/.."
apt_pkgs=(espeak-ng festival festvox-us-slt-hts festvox-kallpc16k sox mono-mcs blender python3-numpy chromium chromium-driver)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null \
      || echo "warning: apt-get could not install ${missing[*]}" >&2
  else
    echo "warning: please install these Debian/Ubuntu packages: ${missing[*]}" >&2
  fi
fi
if [ -f tests/js/package.json ]; then
  if command -v npm >/dev/null; then
    npm ci --prefix tests/js --no-audit --no-fund --silent || echo "warning: npm ci in tests/js failed" >&2
  else
    echo "warning: npm not found; the glTF validator tests need Node.js and npm" >&2
  fi
fi
exit 0
