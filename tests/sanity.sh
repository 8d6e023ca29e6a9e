#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection, without Docker.
#
# ansible-test needs the collection at .../ansible_collections/acgs/haproxy_stack,
# so the checkout (files tracked or not ignored by git) is copied to a temporary tree.
# It runs with the Python of .venv and creates one cached virtual environment per
# sanity test under ~/.ansible/test/venv, installing ansible-test's pinned
# requirements (pylint, pycodestyle, voluptuous, yamllint...) from the package index
# configured for pip (PyPI by default): the first run needs that index, later runs
# reuse the environments.
#
# Usage: tests/sanity.sh [TARGET...]     default targets: plugins/ and the runtime modules' tests and benchmark
#        SANITY_ARGS="--test pep8 --test pylint" tests/sanity.sh
#        tests/sanity.sh .               the whole collection
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${VENV:-$repo/.venv}
python=$venv/bin/python
ansible_test=$venv/bin/ansible-test
[[ -x $ansible_test ]] || { echo "sanity.sh: $ansible_test not found; create .venv from requirements.txt first" >&2; exit 2; }

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(plugins/ tests/unit/ tests/local/conftest.py tests/local/test_runtime_direct.py
                                       tests/local/test_runtime_playbooks.py tests/local/test_packaging.py
                                       tests/local/test_health_gate_local.py tests/local/test_config_files_local.py
                                       bench/bench_runtime.py)
[[ ${targets[*]} == "." ]] && targets=()

py_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# ansible-test bootstraps pip in its virtual environments with a script it downloads from
# ci-files.testing.ansible.com and caches. Where that host is unreachable, cache a stand-in
# that installs pip from Python's bundled ensurepip wheel, then the pinned pip from the index.
pip_version=$("$python" -c "import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version='$py_version'))['pip'])")
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [[ ! -s $get_pip ]]; then
    mkdir -p "$(dirname "$get_pip")"
    if ! curl -fsS --max-time 20 -o "$get_pip.download" \
            "https://ci-files.testing.ansible.com/ansible-test/get-pip-$pip_version.py" 2>/dev/null; then
        echo "sanity.sh: ci-files.testing.ansible.com unreachable, caching a pip bootstrap stand-in at $get_pip"
        cat > "$get_pip.download" <<'EOF'
"""Stand-in for ansible-test's get-pip bootstrap script, written by acgs.haproxy_stack's tests/sanity.sh
because https://ci-files.testing.ansible.com was unreachable: installs pip from Python's bundled
ensurepip wheel, then runs "pip install --upgrade --force-reinstall <args>" against the configured index."""
import ensurepip
import importlib
import os
import runpy
import sys

args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
config = os.environ.get('PIP_CONFIG_FILE')
ensurepip.bootstrap(upgrade=True)
# ensurepip sets PIP_CONFIG_FILE=/dev/null; pip must see the machine's configuration (index, certificates).
if config is None:
    os.environ.pop('PIP_CONFIG_FILE', None)
else:
    os.environ['PIP_CONFIG_FILE'] = config
importlib.invalidate_caches()
sys.argv = ['pip', 'install', '--upgrade', '--force-reinstall'] + args
runpy.run_module('pip', run_name='__main__', alter_sys=True)
EOF
    fi
    mv "$get_pip.download" "$get_pip"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/acgs-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/acgs/haproxy_stack
mkdir -p "$dest"
cd "$repo"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard \
        | grep -zv -E '^(collections/|\.venv/|tests/output/)' \
        | while IFS= read -r -d '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf - | tar -xf - -C "$dest"
else
    tar --exclude=./.venv --exclude=./collections --exclude=./.git --exclude=./tests/output \
        --exclude=.pytest_cache --exclude=__pycache__ -cf - . | tar -xf - -C "$dest"
fi

cd "$dest"
rc=0
# shellcheck disable=SC2086  # SANITY_ARGS is split on purpose
"$ansible_test" sanity --python "$py_version" --color no ${SANITY_ARGS:-} "${targets[@]}" || rc=$?
exit "$rc"
