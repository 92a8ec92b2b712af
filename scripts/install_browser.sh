#!/usr/bin/env bash
# Installs what tests/browser.rs drives: Debian's Chromium and its WebDriver server
# (/usr/bin/chromium, /usr/bin/chromedriver). Does nothing when both are present.
#
#     scripts/install_browser.sh
#
# CI runs as root and installs them; on a developer machine without root this says what to run
# (the test skips with a printed reason when CI is not set and the browser is missing).
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    echo "install_browser: /usr/bin/chromium and /usr/bin/chromedriver are present"
    exit 0
fi

cmd=(apt-get install -y --no-install-recommends chromium chromium-driver)
if [[ "$(id -u)" -ne 0 ]]; then
    echo "install_browser: Chromium or chromedriver is missing; as root, run:" >&2
    echo "    apt-get update && ${cmd[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
"${cmd[@]}"
/usr/bin/chromium --version
/usr/bin/chromedriver --version
