#!/bin/sh
# One-command set-up for a fresh Debian 12 machine with Python 3.11.
# Idempotent: a second run does nothing and prints nothing.
set -eu
cd "$(dirname "$0")/.."

# chrony and dnsmasq-base: NTP/NTS-KE and DNS peers of the integration host tests
# (started on loopback high ports by tools/net_peers.py). dnsmasq-base is the bare
# binary: the `dnsmasq` package would also install a system DNS service.
# chromium: the console's web page is tested in it (Playwright drives this binary).
# postgresql: the console's multi-process tests start a throw-away cluster of their own
# (binaries in /usr/lib/postgresql/N/bin; the package's own service is not used).
DEBS="openssl socat chrony dnsmasq-base chromium postgresql"
# npm: the web page's chart library. Only when there is no npm at all: a Node.js that
# brings its own npm conflicts with Debian's npm package.
command -v npm >/dev/null 2>&1 || DEBS="$DEBS npm"
missing=""
for p in $DEBS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "setup: installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

want=$(sha256sum tools/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements 2>/dev/null)" != "$want" ]; then
    echo "setup: creating .venv with pinned host packages"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r tools/requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
    echo "$want" > .venv/.requirements
fi

.venv/bin/python tools/fetch_umodbus.py .deps

# The console's web page serves its chart library from here (git-ignored), pinned by
# package-lock.json; reinstalled when the lock file changes.
WEB=tools/console/web
want=$(sha256sum $WEB/package-lock.json | cut -d' ' -f1)
if [ "$(cat $WEB/node_modules/.lock-sha256 2>/dev/null)" != "$want" ]; then
    echo "setup: installing the web page's chart library (npm ci)"
    npm ci --prefix $WEB --no-audit --no-fund --loglevel=error >/dev/null
    echo "$want" > $WEB/node_modules/.lock-sha256
fi
