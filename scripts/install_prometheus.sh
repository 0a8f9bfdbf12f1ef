#!/bin/sh
# Install Debian's prometheus (2.42 on Debian 12) for the operations tests without starting its system service:
# a policy-rc.d that answers 101 ("action forbidden") is put in place for the install unless one already exists,
# and nothing may listen on Prometheus' default port 9090 afterwards. Needs root (as `make test` runs in CI).
set -eu
if command -v prometheus >/dev/null 2>&1; then
    exit 0
fi
created=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created=1
fi
cleanup() { if [ -n "$created" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if command -v ss >/dev/null 2>&1 && ss -ltn | grep -q ':9090 '; then
    echo "install_prometheus.sh: something listens on port 9090 after the install; stop it before the tests" >&2
    exit 1
fi
prometheus --version 2>&1 | head -1
