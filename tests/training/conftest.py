"""Fixtures of the training tests: golden files and the network's execution mode.

Importing `training` here, before any test module imports MindSpore, caps oneDNN's ISA first (see
docs/reference.md#avx-512-trap). Graph mode is what export and training use, and under mindspore 2.10 the
only mode that works with numpy 2 (PyNative's first kernel call fails to import numpy's 1.x C API).
"""

from collections.abc import Callable
from pathlib import Path

import training.isa_cap  # noqa: F401  (sets the oneDNN cap before mindspore is imported)

import numpy as np
import pytest
from helpers import GOLDEN

ShapeTable = dict[str, tuple[int, ...]]


@pytest.fixture(scope="session", autouse=True)
def graph_mode() -> None:
    import mindspore as ms

    ms.set_context(mode=ms.GRAPH_MODE)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture(scope="session")
def golden_forward(golden_dir: Path) -> dict[str, np.ndarray]:
    """The reference's tiny network (princeton_tiny_nstack2_dim32.pt): its input and its output."""
    with np.load(golden_dir / "princeton_tiny_forward.npz") as data:
        return {key: data[key] for key in data.files}


def read_shape_table(path: Path) -> ShapeTable:
    """name -> shape from a golden parameter table (`name<TAB>(d0, d1, ...)<TAB>...`), in file order."""
    table: ShapeTable = {}
    for line in path.read_text().splitlines()[1:]:
        name, shape, *_ = line.split("\t")
        table[name] = tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
    return table


@pytest.fixture(scope="session")
def shape_table(golden_dir: Path) -> Callable[[str], ShapeTable]:
    return lambda file_name: read_shape_table(golden_dir / file_name)
