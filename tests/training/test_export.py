"""Export writes a verified MINDIR + ONNX with a real dynamic batch and full metadata, or nothing at all."""

from pathlib import Path

import mindspore as ms
import numpy as np
import onnx
import pytest
from mindspore import nn
from onnx import numpy_helper

from core.joints import FLIP_PERMUTATION, JOINT_NAMES
from core.model_repo import (
    MINDIR_FILE,
    ONNX_FILE,
    ModelRepositoryError,
    install_version_dir,
    read_metadata,
    sha256_file,
    verify_file,
)
from training import export
from training.checkpoints import load_network, load_strict, save_checkpoint
from training.export import ExportError, export_network
from training.import_onnx import import_onnx_model, unused_parameter_names
from training.network import NetworkConfig, StackedHourglass, count_parameters
from training.onnx_batch import make_output_batch_dynamic

INPUT_SIZE = 64
CONFIG = NetworkConfig(nstack=2, features=16, num_joints=16)
PROVENANCE = {"data": "synthetic 100 train", "epochs": 3, "eval": {"pck_total": 0.42}}


def random_weights(net: nn.Cell, seed: int) -> dict[str, np.ndarray]:
    """Random values for every parameter, BN statistics included, scaled so that heatmaps stay O(1)."""
    rng = np.random.default_rng(seed)
    weights = {}
    for p in net.get_parameters():
        if p.name.endswith(("gamma", "moving_variance")):
            value = rng.uniform(0.5, 1.5, p.shape)
        elif p.name.endswith("weight"):
            value = rng.normal(0.0, 0.5 / np.sqrt(np.prod(p.shape[1:])), p.shape)
        else:
            value = rng.normal(0.0, 0.1, p.shape)
        weights[p.name] = value.astype(np.float32)
    return weights


@pytest.fixture(scope="module")
def network() -> StackedHourglass:
    net = CONFIG.build()
    load_strict(net, random_weights(net, seed=3))
    net.set_train(False)
    return net


@pytest.fixture(scope="module")
def exported(network: StackedHourglass, tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("repo")
    return export_network(network, repo, "small", 1, INPUT_SIZE, provenance=PROVENANCE)


def test_export_layout_and_checksums(exported: Path) -> None:
    assert exported.name == "1" and exported.parent.name == "small"
    assert sorted(p.name for p in exported.iterdir()) == ["metadata.json", MINDIR_FILE, ONNX_FILE]
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")]  # no staging left over
    metadata = read_metadata(exported)
    for file_name in (MINDIR_FILE, ONNX_FILE):
        verify_file(exported, metadata, file_name)
        assert (exported / file_name).stat().st_mode & 0o444 == 0o444  # readable by a service user


def test_metadata_contents(exported: Path, network: StackedHourglass) -> None:
    metadata = read_metadata(exported)
    assert (metadata.name, metadata.version) == ("small", 1)
    assert (metadata.input.layout, metadata.input.height, metadata.input.width) == ("NHWC", 64, 64)
    assert (metadata.input.color, metadata.input.pixel_scale) == ("RGB", 1.0 / 255.0)
    # the MINDIR graph's input, named after StackedHourglass.construct's argument, for Lite's input_shape
    assert "StackedHourglass" in metadata.input.mindir_name
    assert metadata.input.mindir_name.endswith(":images")
    assert (metadata.output.nstack, metadata.output.num_joints) == (2, 16)
    assert (metadata.output.heatmap_height, metadata.output.heatmap_width) == (16, 16)
    assert metadata.features == CONFIG.features
    assert metadata.joint_names == tuple(JOINT_NAMES)
    assert metadata.flip_permutation == tuple(FLIP_PERMUTATION.tolist())
    assert metadata.parameter_count == count_parameters(network)
    assert metadata.provenance == PROVENANCE
    assert metadata.exporter["mindspore"] == ms.__version__
    assert metadata.exporter["onnx_opset"] == 11
    parity = metadata.exporter["parity"]
    assert parity["batch"] >= 3
    assert max(parity["onnx_max_abs_error"], parity["mindir_max_abs_error"]) <= parity["tolerance"] == 1e-4
    assert metadata.exported_at.endswith("+00:00")


def test_onnx_resizes_use_scales_and_batch_is_symbolic(exported: Path) -> None:
    model = onnx.load(str(exported / ONNX_FILE))
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    resizes = [node for node in model.graph.node if node.op_type == "Resize"]
    assert len(resizes) == 4 * CONFIG.nstack
    for node in resizes:
        assert len(node.input) == 3  # data, roi, scales: no baked `sizes`
        assert initializers[node.input[1]].size == 0
        np.testing.assert_array_equal(initializers[node.input[2]], [1, 1, 2, 2])
    for value in (*model.graph.input, *model.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"


@pytest.mark.slow
def test_every_row_of_larger_batches_matches_the_network(exported: Path, network: StackedHourglass) -> None:
    images = np.random.default_rng(11).random((5, INPUT_SIZE, INPUT_SIZE, 3), np.float32)
    expected = network(ms.Tensor(images)).asnumpy()
    from_onnx = export.run_onnx(exported / ONNX_FILE, images)
    from_mindir = export.run_mindir(exported / MINDIR_FILE, images[:2])
    assert np.abs(from_onnx - expected).reshape(5, -1).max(axis=1).max() <= 1e-4
    assert np.abs(from_mindir - expected[:2]).max() <= 1e-4
    assert not np.allclose(expected[0], expected[4], atol=1e-3)  # rows differ, so a row mix-up would show


def test_existing_version_is_refused(exported: Path, network: StackedHourglass) -> None:
    before = sha256_file(exported / ONNX_FILE)
    with pytest.raises(ExportError, match="already exists"):
        export_network(network, exported.parent.parent, "small", 1, INPUT_SIZE)
    assert sha256_file(exported / ONNX_FILE) == before


@pytest.mark.slow
def test_baked_batch_fails_parity_and_writes_nothing(
    exported: Path, network: StackedHourglass, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the Resize rewrite rows 1.. of a batch are wrong: the export must refuse.

    Why: docs/reference.md#mindspore-export.
    """
    repo = exported.parent.parent
    before = {p.name: sha256_file(p) for p in exported.iterdir()}
    monkeypatch.setattr(export, "make_batch_dynamic", lambda model: make_output_batch_dynamic(model) or model)
    with pytest.raises(ExportError, match=r"model\.onnx differs .* \['row 1: .*row 2: "):
        export_network(network, repo, "small", 1, INPUT_SIZE, force=True)
    assert {p.name: sha256_file(p) for p in exported.iterdir()} == before
    assert sorted(p.name for p in repo.rglob("*")) == sorted(
        ["small", "1", *before]
    )  # no partial version, no staging folder


@pytest.mark.parametrize(("name", "version", "size"), [("small", 2, 100), ("small", 0, 64), ("../x", 2, 64)])
def test_invalid_arguments_are_refused_before_writing(
    network: StackedHourglass, tmp_path: Path, name: str, version: int, size: int
) -> None:
    with pytest.raises(ExportError):
        export_network(network, tmp_path / "repo", name, version, size)
    assert not (tmp_path / "repo").exists()


def test_install_replaces_only_with_force(tmp_path: Path) -> None:
    target = tmp_path / "repo" / "m" / "1"
    old, new = tmp_path / "old", tmp_path / "new"
    for folder, text in ((old, "old"), (new, "new")):
        folder.mkdir()
        (folder / "metadata.json").write_text(text)
    install_version_dir(old, target, force=False)
    with pytest.raises(ModelRepositoryError, match="already exists"):
        install_version_dir(new, target, force=False)
    assert (target / "metadata.json").read_text() == "old"
    install_version_dir(new, target, force=True)
    assert (target / "metadata.json").read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["1"]


def test_cli_rejects_a_mismatched_checkpoint_and_writes_nothing(
    network: StackedHourglass, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = random_weights(network, seed=4)
    del params["features.0.1.bn.gamma"]
    ckpt = save_checkpoint(params, tmp_path / "broken.ckpt")
    repo = tmp_path / "repo"
    argv = ["--ckpt", str(ckpt), "--name", "m", "--version", "1", "--repo", str(repo), "--input-size", "64"]
    assert export.main(argv) == 1
    assert "features.0.1.bn.gamma" in capsys.readouterr().err
    assert not repo.exists()


def test_an_exported_onnx_model_imports_back_to_the_same_network(
    exported: Path, network: StackedHourglass, tmp_path: Path
) -> None:
    """training.import_onnx recovers every parameter the network runs; only never-run skip convs differ."""
    summary = import_onnx_model(exported / ONNX_FILE, tmp_path / "back.ckpt")
    assert summary["features"] == CONFIG.features and summary["nstack"] == CONFIG.nstack
    restored, _ = load_network(tmp_path / "back.ckpt")
    restored.set_train(False)
    unused = unused_parameter_names(network)
    assert unused, "the network should have skip convolutions it never runs"
    original = {p.name: p.asnumpy() for p in network.get_parameters()}
    for param in restored.get_parameters():
        if param.name not in unused:
            np.testing.assert_array_equal(param.asnumpy(), original[param.name], err_msg=param.name)
    batch = np.random.default_rng(0).random((2, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
    expected = network(ms.Tensor(batch)).asnumpy()
    np.testing.assert_allclose(restored(ms.Tensor(batch)).asnumpy(), expected, atol=1e-6)
