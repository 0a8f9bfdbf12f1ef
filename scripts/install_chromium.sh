#!/bin/sh
# Install Debian's chromium for the dashboard's browser tests (Playwright drives /usr/bin/chromium through
# executable_path; `playwright install`, which downloads a browser, is never run). Needs root.
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
/usr/bin/chromium --version
