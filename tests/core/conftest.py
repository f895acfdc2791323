from pathlib import Path

import numpy as np
import pytest
from helpers import FIXTURES, GOLDEN


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def golden_decode() -> dict[str, np.ndarray]:
    with np.load(GOLDEN / "heatmap_decode.npz") as data:
        return {key: data[key] for key in data.files}
