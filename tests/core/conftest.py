from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def golden_decode() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "golden" / "heatmap_decode.npz") as data:
        return {key: data[key] for key in data.files}
