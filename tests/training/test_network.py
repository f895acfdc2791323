"""The network has the ModelZoo's parameter names and shapes and the published counts."""

from collections.abc import Callable

import mindspore as ms
import numpy as np
import pytest

from training.network import NetworkConfig, StackedHourglass, count_parameters, infer_config

ShapeTable = dict[str, tuple[int, ...]]


@pytest.fixture(scope="module")
def full_size_nets() -> dict[int, StackedHourglass]:
    """The ModelZoo configurations (features 256), built once: construction alone takes seconds."""
    return {nstack: StackedHourglass(nstack=nstack, features=256, num_joints=16) for nstack in (2, 8)}


@pytest.mark.parametrize("nstack", [2, 8])
def test_parameter_names_and_shapes_equal_modelzoo(
    nstack: int, full_size_nets: dict[int, StackedHourglass], shape_table: Callable[[str], ShapeTable]
) -> None:
    expected = shape_table(f"modelzoo_params_nstack{nstack}.tsv")
    net = full_size_nets[nstack]
    ours = {p.name: tuple(p.shape) for p in net.get_parameters()}
    assert list(ours) == list(expected)
    assert ours == expected


@pytest.mark.parametrize(
    ("nstack", "trainable", "with_moving_stats"),
    [(2, 8_429_088, 8_460_576), (8, 32_819_328, 32_939_904)],
)
def test_parameter_counts_match_reference(
    nstack: int, trainable: int, with_moving_stats: int, full_size_nets: dict[int, StackedHourglass]
) -> None:
    net = full_size_nets[nstack]
    assert count_parameters(net) == trainable
    assert count_parameters(net, trainable_only=False) == with_moving_stats


@pytest.mark.parametrize("nstack", [2, 8])
def test_infer_config_from_modelzoo_table(nstack: int, shape_table: Callable[[str], ShapeTable]) -> None:
    config = infer_config(shape_table(f"modelzoo_params_nstack{nstack}.tsv"))
    assert config == NetworkConfig(nstack=nstack, features=256, num_joints=16)


def test_infer_config_reads_small_networks_and_arrays() -> None:
    net = NetworkConfig(nstack=3, features=32, num_joints=14).build()
    params = {p.name: np.zeros(p.shape, np.float32) for p in net.get_parameters()}
    assert infer_config(params) == NetworkConfig(nstack=3, features=32, num_joints=14)


def test_infer_config_rejects_foreign_or_gapped_heads() -> None:
    with pytest.raises(ValueError, match="outs"):
        infer_config({"backbone.conv.weight": (64, 3, 7, 7)})
    with pytest.raises(ValueError, match="numbered"):
        infer_config({"outs.0.conv.weight": (16, 32, 1, 1), "outs.2.conv.weight": (16, 32, 1, 1)})


@pytest.mark.slow
def test_output_shape_for_a_non_square_input_of_multiples_of_64() -> None:
    net = StackedHourglass(nstack=2, features=16, num_joints=16)
    net.set_train(False)
    height, width = 64, 128
    images = np.random.default_rng(1).random((2, height, width, 3), np.float32)
    heatmaps = net(ms.Tensor(images)).asnumpy()
    assert heatmaps.shape == (2, 2, 16, height // 4, width // 4)
    assert np.isfinite(heatmaps).all()
    assert not np.allclose(heatmaps[0], heatmaps[1])  # each row depends on its own image
