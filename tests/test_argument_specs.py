"""Every role's meta/argument_specs.yml must cover its defaults exactly (same names, same defaults)."""
from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[1] / "roles").iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_argument_specs_match_defaults(role):
    defaults_file = role / "defaults" / "main.yml"
    specs_file = role / "meta" / "argument_specs.yml"
    assert specs_file.exists(), "%s has no meta/argument_specs.yml" % role.name
    defaults = (yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else None) or {}
    specs = yaml.safe_load(specs_file.read_text())["argument_specs"]
    # The private _common role has no tasks: its one spec ("settings") documents the stack-wide settings.
    options = specs["settings" if role.name == "_common" else "main"].get("options", {})
    missing = sorted(set(defaults) - set(options))
    undocumented_defaults = sorted(
        name for name, spec in options.items() if "default" in spec and name not in defaults)
    assert not missing, "%s: defaults without an argument spec: %s" % (role.name, missing)
    assert not undocumented_defaults, "%s: specs with a default that defaults/main.yml lacks: %s" % (
        role.name, undocumented_defaults)
    for name, value in defaults.items():
        spec = options[name]
        assert not spec.get("required"), "%s: %s has a default but the spec says required" % (role.name, name)
        assert "default" in spec, "%s: the spec of %s has no default (defaults/main.yml has %r)" % (
            role.name, name, value)
        assert spec["default"] == value, "%s: %s defaults to %r but the spec says %r" % (
            role.name, name, value, spec["default"])
    private = sorted(name for name in defaults if name.startswith("_"))
    assert not private, "%s: private variables belong in vars/main.yml: %s" % (role.name, private)
    # The private _common role owns the stack-wide settings, named acgs_*.
    prefix = "acgs_" if role.name == "_common" else role.name + "_"
    public = sorted(name for name in defaults if not name.startswith(prefix))
    assert not public, "%s: public variables must start with %s: %s" % (role.name, prefix, public)
