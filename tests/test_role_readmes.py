"""Every role's README.md is exactly what tools/role_readme.py generates from meta/argument_specs.yml.

No hand-kept variable tables: change the specs, run `tools/role_readme.py`, commit both.
"""
import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("role_readme", ROOT / "tools" / "role_readme.py")
role_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(role_readme)

ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_readme_is_generated_from_specs(role):
    assert (role / "meta" / "argument_specs.yml").exists(), "%s has no meta/argument_specs.yml" % role.name
    readme = role / "README.md"
    assert readme.exists(), "%s has no README.md: run tools/role_readme.py %s" % (role.name, role.name)
    expected = role_readme.render(role)
    assert readme.read_text() == expected, (
        "roles/%s/README.md differs from its meta/argument_specs.yml: run tools/role_readme.py %s "
        "(never edit the README by hand)" % (role.name, role.name))


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_readme_documents_every_option(role):
    """Guards the generator itself: every option and suboption, with its type and choices, is in the table."""
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    text = role_readme.render(role)

    def walk(options, prefix):
        for name, spec in (options or {}).items():
            spec = spec or {}
            full = prefix + name
            row = next((line for line in text.splitlines() if line.startswith("| `%s` |" % full)), None)
            assert row, "%s: option %s missing from the README table" % (role.name, full)
            assert "| %s |" % role_readme.type_of(spec) in row, "%s: %s type not shown" % (role.name, full)
            for choice in spec.get("choices") or []:
                assert "`%s`" % role_readme.one_line(choice) in row, "%s: %s choice %r not shown" % (
                    role.name, full, choice)
            if "default" in spec and spec["default"] not in (None, "", [], {}):
                dumped = role_readme.one_line(spec["default"])
                assert "`%s`" % dumped in row or "(#default-" in row, "%s: %s default not shown" % (role.name, full)
            sub = spec.get("options") or spec.get("suboptions")
            if sub:
                walk(sub, full + ("[]." if spec.get("type") == "list" else "."))

    for entry in specs.values():
        walk((entry or {}).get("options"), "")


def test_markup_is_converted():
    assert role_readme.markup("I(a) B(b) C(c) V({x: 1}) O(k=v) U(https://e.x) L(t, https://e.x)") == (
        "*a* **b** `c` `{x: 1}` `k=v` <https://e.x> [t](https://e.x)")
    assert role_readme.markup("http://<host>:C(<port>)") == "http://&lt;host&gt;:`<port>`"
    assert role_readme.cell("a|b") == "a\\|b"


def test_check_mode_reports_stale(tmp_path, monkeypatch):
    role = tmp_path / "roles" / "r1"
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: R1\n    options:\n"
        "      r1_port: {type: int, default: 1, description: A port.}\n")
    monkeypatch.setattr(role_readme, "ROOT", tmp_path)
    assert role_readme.main(["--check"]) == 1
    assert role_readme.main([]) == 0
    assert "| `r1_port` | int | `1` | A port. |" in (role / "README.md").read_text()
    assert role_readme.main(["--check"]) == 0
