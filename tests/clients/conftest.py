from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import MPII_DIR
from stub_service import StubBehaviour, build_app, serve


@pytest.fixture(scope="session")
def mpii_dir() -> Path:
    """The real MPII layout: valid.h5 (2958 entries) and the images of entries 0-4."""
    return MPII_DIR


@pytest.fixture
def stub() -> Iterator[tuple[StubBehaviour, str]]:
    behaviour = StubBehaviour()
    with serve(build_app(behaviour)) as url:
        yield behaviour, url
