#!/usr/bin/env bash
# Install the third-party peers the tests talk to (Debian/Ubuntu packages), only if missing.
# mosquitto: MQTT broker; socat: serial pty pairs. Needs root (or sudo) the first time.
# Optional extras as arguments, e.g. `scripts/system-deps.sh chromium` (room panel test).
set -euo pipefail

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v socat >/dev/null 2>&1 || need+=(socat)
for extra in "$@"; do
  case "$extra" in
    chromium) command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
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
