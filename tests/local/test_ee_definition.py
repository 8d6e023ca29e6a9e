"""execution-environment.yml passes ansible-builder's own validation.

`ansible-builder create` validates the definition against its schema, reads the files it references
(requirements.yml, requirements-ee.txt, bindep.txt) and writes the build context (Containerfile and
_build/) without building an image, so this runs offline in seconds.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EE = ROOT / "execution-environment.yml"
BUILDER = Path(sys.executable).parent / "ansible-builder"


def builder():
    path = BUILDER if BUILDER.exists() else shutil.which("ansible-builder")
    if not path:
        pytest.fail("ansible-builder is not installed in the venv: pip install ansible-builder (requirements.txt)")
    return str(path)


def create(definition, context):
    return subprocess.run([builder(), "create", "-f", str(definition), "-c", str(context),
                           "--output-filename", "Containerfile"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    context = tmp_path_factory.mktemp("ee") / "context"
    result = create(EE, context)
    assert result.returncode == 0, "ansible-builder rejected execution-environment.yml:\n%s%s" % (
        result.stdout, result.stderr)
    return context


def test_definition_is_version_3():
    definition = yaml.safe_load(EE.read_text())
    assert definition["version"] == 3
    core = definition["dependencies"]["ansible_core"]["package_pip"]
    assert "2.19" in core, "the EE must carry ansible-core 2.19 (the version this collection is tested with)"


def test_build_context_carries_dependencies(context):
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-core>=2.19,<2.20" in containerfile
    build = context / "_build"
    python = (build / "requirements.txt").read_text()
    for package in ("passlib", "bcrypt", "cryptography"):
        assert package in python, "%s missing from the EE's Python requirements" % package
    system = (build / "bindep.txt").read_text()
    for package in ("openssh-client", "rsync"):
        assert package in system, "%s missing from the EE's system requirements" % package
    collections = {c["name"] for c in yaml.safe_load((build / "requirements.yml").read_text())["collections"]}
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    missing = sorted(set(galaxy.get("dependencies") or {}) - collections)
    assert not missing, "galaxy.yml dependencies missing from requirements.yml: %s" % missing


def test_python_pins_match_requirements_txt():
    """passlib/bcrypt in the EE are pinned like the control venv (passlib 1.7.4 breaks with bcrypt 5)."""
    def pins(path):
        lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
        return dict(line.split("==", 1) for line in lines if "==" in line)

    venv, ee = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-ee.txt")
    for package in ("passlib", "bcrypt"):
        assert ee.get(package) == venv.get(package), "%s: EE pins %s, requirements.txt %s" % (
            package, ee.get(package), venv.get(package))


def test_builder_rejects_an_invalid_definition(tmp_path):
    """The validation is real: an unknown key or a missing referenced file fails."""
    definition = yaml.safe_load(EE.read_text())
    definition["dependencies"]["not_a_key"] = "x"
    bad = tmp_path / "bad-ee.yml"
    bad.write_text(yaml.safe_dump(definition))
    for name in ("requirements.yml", "requirements-ee.txt", "bindep.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    result = create(bad, tmp_path / "ctx")
    assert result.returncode != 0 and "not_a_key" in result.stdout + result.stderr

    definition["dependencies"].pop("not_a_key")
    definition["dependencies"]["system"] = "missing-bindep.txt"
    bad.write_text(yaml.safe_dump(definition))
    result = create(bad, tmp_path / "ctx2")
    assert result.returncode != 0
