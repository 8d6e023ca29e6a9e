"""tests/README.md's promise map names tests that exist.

Each `path.py::name` (and each `::name` after it in the same table row, which means the same file)
must be a file with a `def name`: a promise mapped to a test nobody wrote is a promise untested.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_FILE = re.compile(r"^((?:tests|molecule)/[\w/.\-]+\.py)(?:::(\w+))?")


def references():
    """(row number, file, test name or None) for every test the map names."""
    found = []
    for number, line in enumerate((ROOT / "tests" / "README.md").read_text().splitlines(), 1):
        if not line.startswith("|"):
            continue
        current = None
        for token in re.findall(r"`([^`]+)`", line):
            match = TEST_FILE.match(token)
            if match:
                current = match.group(1)
                found.append((number, current, match.group(2)))
            elif token.startswith("::") and current and re.fullmatch(r"\w+", token[2:]):
                found.append((number, current, token[2:]))
    return found


def test_the_map_names_tests():
    assert len(references()) > 100


@pytest.mark.parametrize("line, path, name", references(), ids=lambda v: str(v))
def test_each_named_test_exists(line, path, name):
    source = ROOT / path
    assert source.is_file(), "tests/README.md line %d names %s, which does not exist" % (line, path)
    if name:
        assert re.search(r"^\s*def %s\b" % name, source.read_text(), re.M), (
            "tests/README.md line %d names %s::%s, which has no such test" % (line, path, name))
