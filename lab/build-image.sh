#!/usr/bin/env bash
# Build the lab's Debian image with systemd as PID 1, once per release; later runs reuse it.
#   LAB_RELEASE=bookworm (Debian 12, the default) or trixie (Debian 13)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lab/release.sh disable=SC1091
. "$here/release.sh"
export CONTAINERS_CONF="$here/containers.conf"

command -v podman >/dev/null \
  || { echo "ERROR: podman is not installed: run 'make deps' as root (it runs apt-get install podman runc), then 'make lab'" >&2; exit 1; }
if podman image exists "$IMAGE"; then
  echo "lab image $IMAGE already built"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "ERROR: debootstrap is missing: run 'make deps' (apt-get install debootstrap)" >&2; exit 1; }

root=$(mktemp -d /var/tmp/acgs-lab-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "building $IMAGE (Debian $LAB_DEBIAN, $LAB_RELEASE) with debootstrap (a few minutes, once)"
# Packages Ansible needs on the hosts (python3, python3-apt, sshd) and what systemd
# units and tests use; the roles install the services themselves.
if ! debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,python3,python3-apt,openssh-server,ca-certificates,iproute2,procps,curl,socat,gnupg,logrotate,cron \
    "$LAB_RELEASE" "$root" http://deb.debian.org/debian >"$root.log" 2>&1; then
  echo "ERROR: debootstrap failed (last lines below, full log: $root.log): check that this runs as root," \
       "that http://deb.debian.org/debian is reachable and that /var/tmp has ~500 MB free; then 'make lab' again" >&2
  tail -20 "$root.log" >&2
  exit 1
fi
rm -f "$root.log"
cat >"$root/etc/apt/sources.list" <<SRC
deb http://deb.debian.org/debian $LAB_RELEASE main
deb http://deb.debian.org/debian $LAB_RELEASE-updates main
deb http://deb.debian.org/debian-security $LAB_RELEASE-security main
SRC
# Units that make no sense in a container and slow the boot.
for unit in systemd-resolved.service systemd-timesyncd.service getty@tty1.service \
            console-getty.service systemd-logind.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
# Ansible logs in as root with the lab's key (lab.sh installs it per lab).
printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n' >"$root/etc/ssh/sshd_config.d/lab.conf"
echo 'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/90norecommends"
chroot "$root" apt-get clean
tar -C "$root" -c . | podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$IMAGE" >/dev/null \
  || { echo "ERROR: podman import of $IMAGE failed (podman's error above): check free space for podman's storage (df -h /var/lib/containers) and that this runs as root; then 'make lab' again" >&2; exit 1; }
echo "built $IMAGE"
