#!/usr/bin/env bash
# The Debian/Ubuntu packages the test suites need, in one place (`make system-deps`, which
# `make test` and `.ci/run` both use).
#   scripts/system-deps.sh          install what is missing (as root), or stop at once with the
#                                   exact command to run (not root, or no apt-get)
#   scripts/system-deps.sh --check  only check; exit 1 with that command if anything is missing
#   scripts/system-deps.sh --demo [--check]   only what `make demo` needs (ffmpeg)
# What each is for: docker-compose validates docker-compose.yaml (no engine needed); postgresql
# and redis-server back the CeleryExecutor e2e test; chromium drives the browser tests;
# fonts-droid-fallback gives the emulator CJK glyphs for text overlays; ffmpeg (ffprobe) is how
# the emulators read and transcode videos, and how the tests probe what they deliver.
set -euo pipefail

missing=()
if [ "${1:-}" = "--demo" ]; then  # `make demo` needs only ffmpeg (the emulators' video work)
  shift
  command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
else
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  [ -e /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || missing+=(fonts-droid-fallback)
  command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)  # network namespaces: the compose emulators' test
fi

stop_cluster() {
  # Debian's postgresql package starts a cluster on 5432; the tests start their own, so stop it.
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    service postgresql stop >/dev/null 2>&1 || true
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  stop_cluster
  exit 0
fi
command_line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "${1:-}" = "--check" ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  {
    echo "Debian packages are missing: ${missing[*]} (for the tests, or ffmpeg for the demo's videos)."
    if command -v apt-get >/dev/null 2>&1; then
      echo "Install them (once) with:"
      echo "    sudo sh -c '$command_line'"
      echo "then run the command again. (As root, 'make test' installs them itself.)"
    else
      echo "This is not a Debian/Ubuntu machine: install the equivalents of those packages with its"
      echo "package manager (Chromium, PostgreSQL server, Redis server, docker-compose v1, a CJK font, ffmpeg)."
    fi
  } >&2
  exit 1
fi
echo "Installing system packages the tests need: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
stop_cluster
