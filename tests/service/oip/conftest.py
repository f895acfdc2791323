"""Fixtures of the OIP tests: the service on both protocols (oip_helpers.serve_oip)."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from oip_helpers import OipService, serve_oip


@pytest.fixture(scope="module")
def oip(tiny_model_repo: Path) -> Iterator[OipService]:
    """One service per test module on the tiny repository with default settings."""
    with serve_oip(tiny_model_repo) as service:
        yield service


@pytest.fixture
def launch_oip(tiny_model_repo: Path) -> Iterator[Callable[..., OipService]]:
    """Factory: launch_oip(repo=None, **settings) -> OipService, stopped at the end of the test."""
    with ExitStack() as stack:
        yield lambda repo=None, **overrides: stack.enter_context(
            serve_oip(repo or tiny_model_repo, **overrides)
        )
