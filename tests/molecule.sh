#!/usr/bin/env bash
# Run every molecule scenario (or those named as arguments) one after another;
# print one line per scenario and "N passed, N failed" at the end.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH" CONTAINERS_CONF="$PWD/lab/containers.conf"
mkdir -p tests/output/molecule
# ACGS_ACCELERATE=mitogen: converge.yml (converge, idempotence) runs with mitogen's strategy.
# Molecule's own create playbook waits on async jobs that never finish under mitogen, so
# ANSIBLE_STRATEGY (the Makefile's switch for every playbook) is not passed on here.
unset ANSIBLE_STRATEGY
if [ "${ACGS_ACCELERATE:-}" = mitogen ]; then export ANSIBLE_STRATEGY_PLUGINS="$PWD/tools/mitogen"; fi
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  for dir in molecule/*/; do [ -f "$dir/molecule.yml" ] && scenarios+=("$(basename "$dir")"); done
fi
passed=0 failed=0 failed_names=""
for scenario in "${scenarios[@]}"; do
  log="tests/output/molecule/$scenario.log"
  start=$(date +%s)
  if molecule test -s "$scenario" >"$log" 2>&1; then
    passed=$((passed + 1)); result=passed
  else
    failed=$((failed + 1)); result=FAILED; failed_names="$failed_names $scenario"
  fi
  echo "molecule $scenario: $result in $(( $(date +%s) - start )) s (log: $log)"
  if [ "$result" = FAILED ]; then
    echo "---- last lines of $log ----"; tail -40 "$log" | sed 's/\x1b\[[0-9;]*m//g'; echo "----"
  fi
done
echo "molecule: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "failed scenarios:$failed_names"; exit 1; }
