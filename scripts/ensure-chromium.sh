#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright (`playwright install` cannot
# download browsers here). Install it when we can; otherwise say why the browser tests skip.
set -eu
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    exit 0
fi
echo "warning: /usr/bin/chromium is missing and this user cannot apt-get install it;" \
     "the browser tests will skip (they fail under CI=true)." >&2
