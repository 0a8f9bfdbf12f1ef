#!/bin/sh
# Install Debian's PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin) for the service's storage tests without
# starting its system service: the tests run their own server (initdb + pg_ctl in a temporary folder, on a loopback
# port they pick, as the unprivileged user `postgres` when they run as root). A policy-rc.d answering 101 ("action
# forbidden") is put in place for the install unless one exists, and the package's default cluster is not created.
# Needs root (as `make test` runs in CI).
set -eu
if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
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
mkdir -p /etc/postgresql-common
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null
/usr/lib/postgresql/15/bin/postgres --version
