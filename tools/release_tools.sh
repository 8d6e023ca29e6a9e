#!/usr/bin/env bash
# The HAProxy and Prometheus tools of another Debian release, runnable on this (bookworm) machine, so
# that tests/local and tests/unit can check the collection against that release's binaries too.
#   LAB_RELEASE=trixie tools/release_tools.sh
# makes, once, .cache/release-tools/trixie/: trixie's root filesystem with haproxy, prometheus
# (promtool), prometheus-alertmanager (amtool) and prometheus-haproxy-exporter installed, taken from
# the lab's trixie image, and bin/{haproxy,promtool,amtool,prometheus-haproxy-exporter}: wrappers
# that run those binaries with trixie's own dynamic loader and libraries (bookworm's glibc is too old
# for them). tests/release_binaries.py finds the wrappers there. A later run checks the wrappers and
# does nothing when they work. LAB_RELEASE=bookworm needs nothing: the host's binaries are bookworm's.
# The haproxy wrapper serves "-c" and foreground runs ("-db"), as the tests use it: in master-worker
# mode (-W/-Ws) a reload re-executes the binary itself, without the wrapper, and that fails here.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lab/release.sh disable=SC1091
. "$repo/lab/release.sh"

die() { echo "ERROR: $*" >&2; exit 1; }

if [ "$LAB_RELEASE" = bookworm ]; then
  echo "LAB_RELEASE=bookworm: nothing to fetch, this machine's own haproxy, promtool, amtool and" \
       "prometheus-haproxy-exporter are bookworm's (make deps installs them)"
  exit 0
fi

PACKAGES="haproxy prometheus prometheus-alertmanager prometheus-haproxy-exporter"
# wrapper name:package:path of the binary in the release's root filesystem
TOOLS="haproxy:haproxy:/usr/sbin/haproxy promtool:prometheus:/usr/bin/promtool
amtool:prometheus-alertmanager:/usr/bin/amtool
prometheus-haproxy-exporter:prometheus-haproxy-exporter:/usr/bin/prometheus-haproxy-exporter"
# Merged /usr (trixie): the loader is a real file here; /lib64/ld-linux-x86-64.so.2 is an absolute
# symlink that would point at this host's loader.
LOADER=/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu
dest="$repo/.cache/release-tools/$LAB_RELEASE"

# One line per tool: "<name>: <first line of its version output>"; fails on the first one that does
# not run.
versions() {
  local dir=$1 entry name out
  for entry in $TOOLS; do
    name=${entry%%:*}
    case "$name" in
      haproxy) out=$("$dir/bin/$name" -v 2>&1) ;;
      *) out=$("$dir/bin/$name" --version 2>&1) ;;
    esac || { echo "$name does not run: ${out:0:300}" >&2; return 1; }
    echo "$name: ${out%%$'\n'*}"
  done
}

# "complete" is written last, after every wrapper ran: without it the directory is a leftover.
if [ -f "$dest/complete" ] && found=$(versions "$dest" 2>/dev/null); then
  echo "release tools for $LAB_RELEASE already in $dest:"
  echo "$found"
  exit 0
fi

command -v podman >/dev/null \
  || die "podman is not installed: run 'make deps' as root (it installs podman), then run this again"
export CONTAINERS_CONF="$repo/lab/containers.conf"
podman image exists "$IMAGE" \
  || die "image $IMAGE (LAB_RELEASE=$LAB_RELEASE) is missing: run 'make image LAB_RELEASE=$LAB_RELEASE', then run this again"

started=$SECONDS
mkdir -p "$(dirname "$dest")"
work=$(mktemp -d "$dest.tmp.XXXXXX")
# Names start with acgs-reltools: the only containers this script creates or removes.
container="acgs-reltools-$LAB_RELEASE-$$"
cleanup() {
  podman rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "installing $PACKAGES in a container from $IMAGE (about a minute, once)"
# policy-rc.d: the packages' maintainer scripts must not start services in the build container.
# Documentation, manual pages, locales and apt's lists are not needed to run the tools.
if ! podman run --name "$container" --network=host "$IMAGE" sh -euc "
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/* /usr/share/doc /usr/share/man /usr/share/locale /usr/share/info \
      /var/log/* /usr/sbin/policy-rc.d
  " >"$work/install.log" 2>&1; then
  tail -20 "$work/install.log" >&2
  die "apt-get install $PACKAGES failed in the $LAB_RELEASE container (last lines above): check that" \
      "http://deb.debian.org/debian is reachable from podman containers, then run this again"
fi

echo "exporting the root filesystem to $dest"
mkdir "$work/root"
# Device nodes and the kernel's file systems are not needed to run the binaries.
podman export "$container" | tar -C "$work/root" -x --anchored --exclude=dev --exclude=proc --exclude=sys \
  || die "podman export of $container failed (error above): check free space under $(dirname "$dest") (about 600 MB), then run this again"
podman rm -f "$container" >/dev/null
# The servers themselves and their web assets are not needed (only their check tools): about 200 MB less.
rm -rf "$work/root/usr/bin/prometheus" "$work/root/usr/bin/prometheus-alertmanager" "$work/root/usr/share/javascript" \
  "$work/root/usr/share/prometheus"

[ -x "$work/root$LOADER" ] || die "$LAB_RELEASE's loader $LOADER is missing from the exported root filesystem; remove $dest* and run this again"
mkdir "$work/bin"
for entry in $TOOLS; do
  name=${entry%%:*}
  package=${entry#*:}
  package=${package%%:*}
  binary=${entry##*:}
  [ -x "$work/root$binary" ] || die "$binary is not in the $LAB_RELEASE root filesystem after installing $PACKAGES; run this again"
  # A static binary (Go builds often are) runs as it is; the loader refuses it ("--verify" fails).
  if "$work/root$LOADER" --verify "$work/root$binary" >/dev/null 2>&1; then
    how="$LAB_RELEASE's glibc is newer than this host's: the binary runs with $LAB_RELEASE's own loader and libraries"
    run="\"\$root$LOADER\" --library-path \"\$root${LIBRARY_PATH//:/:\$root}\" \"\$root$binary\" \"\$@\""
  else
    how="a static binary, run as it is"
    run="\"\$root$binary\" \"\$@\""
  fi
  cat >"$work/bin/$name" <<EOF
#!/bin/sh
# $LAB_RELEASE's $name (Debian package $package) from ../root, made by tools/release_tools.sh;
# $how.
root=\$(cd "\$(dirname "\$0")/.." && pwd)/root
exec $run
EOF
  chmod 755 "$work/bin/$name"
done

found=$(versions "$work") || die "a $LAB_RELEASE tool does not run through its wrapper (above); remove $dest and run this again"
rm -f "$work/install.log"
rm -rf "$dest" && mv "$work" "$dest"
echo "$found" >"$dest/complete"
echo "release tools for $LAB_RELEASE ready in $dest ($(du -sh "$dest" | cut -f1), $((SECONDS - started)) s):"
echo "$found"
