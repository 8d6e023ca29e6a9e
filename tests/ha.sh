#!/usr/bin/env bash
# HA topology drills, end to end: start the HA lab, converge it, run the drills, remove the lab.
#   tests/ha.sh            lab acgs-ha (or derived from ACGS_LAB, see below)
#   KEEP_LAB=1 tests/ha.sh leave the lab running afterwards (to debug a failure)
# The lab is separate from the normal one: ACGS_LAB=acgs-ci (CI) gives acgs-ha-ci, any other
# acgs-<x> gives acgs-ha-<x>, a name already starting with acgs-ha is used as is, none or acgs-lab
# gives acgs-ha. Figures: tests/output/ha.json; logs: tests/output/ha-*.log. Non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
export CONTAINERS_CONF="$root/lab/containers.conf" ANSIBLE_CONFIG="$root/ansible.cfg"

base=${ACGS_LAB:-acgs-lab}
case "$base" in
  acgs-ha*) lab=$base ;;
  acgs-lab) lab=acgs-ha ;;
  acgs-*) lab=acgs-ha-${base#acgs-} ;;
  *) lab=acgs-ha-$base ;;
esac
export ACGS_LAB=$lab
export LAB_HOSTS="lb1 lb2 mon1 mon2 central1 app1 app2"
mkdir -p tests/output
start=$(date +%s)
step() { echo "[ha.sh $(( $(date +%s) - start ))s] $*"; }

cleanup() {
  rc=$?
  if [ "${KEEP_LAB:-0}" = 1 ]; then
    step "KEEP_LAB=1: lab $lab left running (lab/lab.sh down with ACGS_LAB=$lab LAB_HOSTS=\"$LAB_HOSTS\")"
  else
    step "removing lab $lab"
    lab/lab.sh down >/dev/null 2>&1 || echo "WARNING: lab/lab.sh down failed for $lab" >&2
  fi
  step "done: $([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)") in $(( $(date +%s) - start )) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "starting lab $lab ($LAB_HOSTS)"
lab/lab.sh up || { echo "ERROR: lab/lab.sh up failed for $lab" >&2; exit 1; }

step "converging: ansible-playbook site.yml -i inventories/lab-ha (log: tests/output/ha-converge.log)"
if ! .venv/bin/ansible-playbook site.yml -i inventories/lab-ha >tests/output/ha-converge.log 2>&1; then
  echo "ERROR: converge failed; last lines of tests/output/ha-converge.log:" >&2
  tail -40 tests/output/ha-converge.log >&2
  exit 1
fi
grep -A12 '^PLAY RECAP' tests/output/ha-converge.log | grep -E '^[a-z0-9]+ +:' || true

step "drills: pytest tests/integration/test_ha.py"
.venv/bin/pytest -q -s tests/integration/test_ha.py 2>&1 | tee tests/output/ha-pytest.log
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || { echo "ERROR: HA drills failed (tests/output/ha-pytest.log)" >&2; exit "$rc"; }
