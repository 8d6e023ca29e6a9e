#!/usr/bin/env bash
# Lab hosts: podman containers from one Debian systemd image (LAB_RELEASE: bookworm or trixie,
# see release.sh).
#   lab.sh up      create/start the hosts (reuses running ones)
#   lab.sh down    remove the hosts and their network (keeps the image)
#   lab.sh status  print "name address" for each host
# ACGS_LAB names the lab (default acgs-lab); CI uses its own name so it never
# touches a developer's lab that may still be running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="$here/containers.conf"
LAB=${ACGS_LAB:-acgs-lab}
# A lab keeps the release it was made with (a test that recreates a host need not know it).
if [ -z "${LAB_RELEASE:-}" ] && [ -f "$here/.state/$LAB/release" ]; then
  LAB_RELEASE=$(cat "$here/.state/$LAB/release")
fi
# shellcheck source=lab/release.sh disable=SC1091
. "$here/release.sh"
NETWORK="$LAB-net"
# Hosts of the lab inventory (inventories/lab/hosts.yml).
HOSTS=${LAB_HOSTS:-"lb1 mon1 app1 app2"}
# Per-lab state: Ansible's SSH key and the hosts' addresses (read by the inventory).
STATE="$here/.state/$LAB"

die() { echo "ERROR: $*" >&2; exit 1; }
# The lab needs rootful podman (privileged containers, systemd as PID 1).
rootful() { [ "$(id -u)" = 0 ] || echo " The lab needs rootful podman: run it as root."; }

command -v podman >/dev/null \
  || die "podman is not installed: run 'make deps' as root (it runs apt-get install podman runc), then 'make lab'.$(rootful)"

up() {
  podman image exists "$IMAGE" || die "lab image $IMAGE is missing: run 'make image LAB_RELEASE=$LAB_RELEASE' (or LAB_RELEASE=$LAB_RELEASE lab/build-image.sh), then 'make lab'."
  podman network exists "$NETWORK" || podman network create "$NETWORK" >/dev/null \
    || die "cannot create podman network $NETWORK (podman's error above): 'podman network ls' shows the networks; on a subnet clash remove the stale one or use another lab name (ACGS_LAB=<name> make lab).$(rootful)"
  # Fixed addresses: the n-th host of HOSTS gets .(10+n) of the lab network (and a MAC made from
  # it), so a container that is killed, removed or recreated comes back with the same address and
  # the topology (keepalived's unicast peers, certificates, scrape targets) converges again.
  # Podman's own assignment starts at .2 and the HA lab's VIP is .250: neither collides.
  subnet=$(podman network inspect -f '{{range .Subnets}}{{.Subnet}} {{end}}' "$NETWORK" | awk '{print $1}')
  case "$subnet" in
    */24) prefix=${subnet%.*/24} ;;
    *) die "lab network $NETWORK has subnet '${subnet:-none}', not an IPv4 /24: remove it ('ACGS_LAB=$LAB lab/lab.sh down') and 'make lab' again" ;;
  esac
  index=0
  for host in $HOSTS; do
    index=$((index + 1))
    name="$LAB-$host"
    if podman container exists "$name"; then
      running_image=$(podman inspect -f '{{.ImageName}}' "$name")
      [ "$running_image" = "$IMAGE" ] \
        || die "$name runs $running_image, not $IMAGE (LAB_RELEASE=$LAB_RELEASE): one lab name per release; remove it ('ACGS_LAB=$LAB lab/lab.sh down') or use another name (ACGS_LAB=$LAB-$LAB_RELEASE)"
      [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] || podman start "$name" >/dev/null
      continue
    fi
    # privileged + systemd as PID 1: Debian's haproxy unit fails with
    # 226/NAMESPACE otherwise.
    address="$prefix.$((10 + index))"
    # The MAC follows the address (locally administered 02:...): a recreated host keeps both, so
    # neighbours' ARP caches stay right.
    # shellcheck disable=SC2086 # the address's octets, split on purpose
    mac=$(IFS=.; printf '02:ac:%02x:%02x:%02x:%02x' $address)
    podman run -d --name "$name" --hostname "$host" --network "$NETWORK" --ip "$address" --mac-address "$mac" \
      --privileged --systemd=always --label "acgs-lab=$LAB" \
      --tmpfs /tmp --tmpfs /run --tmpfs /run/lock \
      "$IMAGE" >/dev/null || die "cannot start container $name (podman's error above; 'podman logs $name'). A broken leftover: 'ACGS_LAB=$LAB lab/lab.sh down', then 'make lab'.$(rootful)"
  done
  mkdir -p "$STATE"
  echo "$LAB_RELEASE" >"$STATE/release"
  [ -f "$STATE/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "$LAB" -f "$STATE/id_ed25519"
  # Wait until systemd inside each host has finished booting.
  for host in $HOSTS; do
    name="$LAB-$host"
    for _ in $(seq 1 60); do
      state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
      sleep 0.5
    done
    case "$state" in running|degraded) ;; *) die "systemd in $name did not boot (state: ${state:-none}); see 'podman logs $name', then 'ACGS_LAB=$LAB lab/lab.sh down' and 'make lab'" ;; esac
    podman exec -i "$name" sh -c 'mkdir -p -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys' <"$STATE/id_ed25519.pub"
  done
  status | awk 'BEGIN { printf "{" } { printf "%s\"%s\": \"%s\"", (NR > 1 ? ", " : ""), $1, $3 } END { print "}" }' >"$STATE/addresses.json"
  status
}

down() {
  for name in $(podman ps -a --filter "label=acgs-lab=$LAB" --format '{{.Names}}'); do
    podman rm -f -t 5 "$name" >/dev/null
  done
  if podman network exists "$NETWORK"; then
    podman network rm "$NETWORK" >/dev/null || true
  fi
  rm -f "$STATE/addresses.json" "$STATE/release"
  echo "lab $LAB removed (image kept)"
}

status() {
  for host in $HOSTS; do
    name="$LAB-$host"
    addr=$(podman inspect -f "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAddress}}" "$name" 2>/dev/null || echo "-")
    echo "$host $name $addr"
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: lab.sh up|down|status" ;;
esac
