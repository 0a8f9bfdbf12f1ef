#!/bin/sh
# Install Debian's Slurm (22.05 on Debian 12: slurmctld, slurmd, slurm-client, slurmrestd) for the operations tests
# without starting any system service (slurmctld, slurmd, munge): a policy-rc.d that answers 101 ("action
# forbidden") is put in place for the install unless one already exists, and nothing may listen on Slurm's default
# ports (6817, 6818, 6820) afterwards. The tests start their own cluster on loopback ports with auth/none, so munge is
# installed (a package dependency) but never run. Needs root (as `make test` runs in CI).
set -eu
if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v sbatch >/dev/null 2>&1 \
    && command -v slurmrestd >/dev/null 2>&1; then
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
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client slurmrestd >/dev/null
if command -v ss >/dev/null 2>&1 && ss -ltn | grep -Eq ':(6817|6818|6819|6820) '; then
    echo "install_slurm.sh: something listens on a Slurm default port after the install; stop it before the tests" >&2
    exit 1
fi
slurmctld -V
