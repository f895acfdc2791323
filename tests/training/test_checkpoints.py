"""Strict checkpoint loading: ModelZoo checkpoints load; missing, extra or misshapen parameters are named."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from training.checkpoints import (
    CheckpointMismatchError,
    load_network,
    load_strict,
    read_checkpoint,
    save_checkpoint,
)
from training.network import NetworkConfig

SMALL = NetworkConfig(nstack=2, features=16, num_joints=16)


def random_params(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}


def small_params() -> dict[str, np.ndarray]:
    return random_params({p.name: tuple(p.shape) for p in SMALL.build().get_parameters()})


def test_modelzoo_checkpoint_loads_strictly_with_its_values(
    tmp_path: Path, shape_table: Callable[[str], dict[str, tuple[int, ...]]]
) -> None:
    params = random_params(shape_table("modelzoo_params_nstack2.tsv"))
    path = save_checkpoint(params, tmp_path / "modelzoo.ckpt")
    net, config = load_network(path)
    assert config == NetworkConfig(nstack=2, features=256, num_joints=16)
    loaded = {p.name: p.asnumpy() for p in net.get_parameters()}
    assert loaded.keys() == params.keys()
    for name in ("pre.0.conv.conv.weight", "pre.1.bn1.moving_mean", "merge_preds.0.conv.bias"):
        np.testing.assert_array_equal(loaded[name], params[name])


def test_missing_parameter_is_named(tmp_path: Path) -> None:
    params = small_params()
    del params["hgs.1.0.low2.low2.low2.low2.conv2.conv.weight"]
    path = save_checkpoint(params, tmp_path / "missing.ckpt")
    with pytest.raises(
        CheckpointMismatchError, match=r"missing \(1\): hgs\.1\.0\.low2\.low2\.low2\.low2\.conv2"
    ):
        load_network(path)


def test_unexpected_parameter_is_named(tmp_path: Path) -> None:
    params = {**small_params(), "head.extra.weight": np.zeros((3, 3), np.float32)}
    path = save_checkpoint(params, tmp_path / "extra.ckpt")
    with pytest.raises(CheckpointMismatchError, match=r"unexpected \(1\): head\.extra\.weight"):
        load_network(path)


def test_wrong_shape_is_named() -> None:
    params = small_params()
    params["outs.1.conv.bias"] = np.zeros(17, np.float32)
    with pytest.raises(
        CheckpointMismatchError, match=r"wrong shape \(1\): outs\.1\.conv\.bias \(17,\) != \(16,\)"
    ):
        load_strict(SMALL.build(), params)


def test_optimizer_state_is_skipped_not_loaded(tmp_path: Path) -> None:
    params = small_params()
    training_state = {
        "moment1.pre.0.conv.conv.weight": np.ones((16, 3, 7, 7), np.float32),
        "global_step": np.array([7], np.int32),
        "learning_rate": np.array(1e-3, np.float32),
    }
    path = save_checkpoint({**params, **training_state}, tmp_path / "train_state.ckpt")
    assert read_checkpoint(path).keys() == params.keys()
    net, _ = load_network(path)
    weight = next(p for p in net.get_parameters() if p.name == "pre.0.conv.conv.weight")
    np.testing.assert_array_equal(weight.asnumpy(), params["pre.0.conv.conv.weight"])


def test_checkpoint_without_prediction_heads_is_a_mismatch(tmp_path: Path) -> None:
    path = save_checkpoint({"backbone.weight": np.zeros(3, np.float32)}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointMismatchError, match="outs"):
        load_network(path)
