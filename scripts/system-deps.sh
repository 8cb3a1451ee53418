#!/usr/bin/env bash
# Install the third-party peers the tests talk to (Debian/Ubuntu packages), only if missing.
# mosquitto: MQTT broker; socat: serial pty pairs. Needs root (or sudo) the first time.
# Optional extras as arguments, e.g. `scripts/system-deps.sh chromium` (room panel and session
# record tests), `weasyprint` (pango and fonts with Vietnamese glyphs, for the session record PDF).
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v socat >/dev/null 2>&1 || need+=(socat)
for extra in "$@"; do
  case "$extra" in
    chromium) command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
    weasyprint)
      ldconfig -p | grep -q 'libpango-1.0.so.0' || need+=(libpango-1.0-0)
      ldconfig -p | grep -q 'libpangoft2-1.0.so.0' || need+=(libpangoft2-1.0-0)
      ldconfig -p | grep -q 'libharfbuzz-subset.so.0' || need+=(libharfbuzz-subset0)
      [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
      ;;
    *) need+=("$extra") ;;
  esac
done

if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
