"""Fixtures for tests against the lab (lab/lab.sh, inventories/lab).

The lab must be up and converged (`make lab`); `make test-integration` does that first.
"""
import os

import pytest

from lab_hosts import ROOT, LabHosts, LabNotUp  # noqa: F401 (ROOT is imported from here by the tests)

LAB_NAME = os.environ.get("ACGS_LAB", "acgs-lab")


class Lab(LabHosts):
    """The lab of inventories/lab; a lab that is not up fails the test that asks for it."""

    def __init__(self):
        try:
            super().__init__(LAB_NAME)
        except LabNotUp as exc:
            pytest.fail(str(exc))


@pytest.fixture(scope="session")
def lab():
    return Lab()
