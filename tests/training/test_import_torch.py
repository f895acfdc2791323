"""PyTorch reference checkpoints convert to our network: names map onto the ModelZoo's, outputs match."""

import sys
from collections.abc import Callable
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from core.model_repo import MINDIR_FILE, ONNX_FILE, read_metadata
from training import export, import_torch
from training.checkpoints import load_network
from training.import_torch import read_torch_checkpoint, torch_to_mindspore_name
from training.network import NetworkConfig

GOLDEN_TOLERANCE = 1e-4
TORCH_MISSING = "torch is optional (extra 'torch', torch==2.13.0); CI installs it so these tests run there"
ShapeTable = dict[str, tuple[int, ...]]


@pytest.mark.parametrize("nstack", [2, 8])
def test_reference_keys_map_onto_modelzoo_names_and_shapes(
    nstack: int, shape_table: Callable[[str], ShapeTable]
) -> None:
    reference = shape_table(f"princeton_state_dict_nstack{nstack}.tsv")
    mapped = {torch_to_mindspore_name(key): shape for key, shape in reference.items()}
    dropped = mapped.pop(None)
    assert dropped == ()  # num_batches_tracked: scalar counters with no MindSpore counterpart
    assert mapped == shape_table(f"modelzoo_params_nstack{nstack}.tsv")


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("model.module.pre.0.bn.running_var", "pre.0.bn.moving_variance"),
        ("model.module.pre.1.bn3.weight", "pre.1.bn3.gamma"),
        ("model.module.features.1.1.bn.bias", "features.1.1.bn.beta"),
        ("model.module.pre.0.conv.weight", "pre.0.conv.conv.weight"),
        ("model.module.merge_preds.0.conv.conv.bias", "merge_preds.0.conv.bias"),
        ("model.module.outs.1.conv.weight", "outs.1.conv.weight"),
        ("module.pre.1.conv1.conv.weight", "pre.1.conv1.conv.weight"),
        ("model.module.pre.1.bn2.num_batches_tracked", None),
    ],
)
def test_single_key_renames(key: str, name: str | None) -> None:
    assert torch_to_mindspore_name(key) == name


def test_missing_torch_is_reported_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, golden_dir: Path
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(SystemExit, match=r"pip install 'hourglass-pose\[torch\]'"):
        read_torch_checkpoint(golden_dir / "princeton_tiny_nstack2_dim32.pt")


def test_incomplete_reference_checkpoint_fails_naming_the_key(
    golden_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_MISSING)
    checkpoint = torch.load(
        golden_dir / "princeton_tiny_nstack2_dim32.pt", map_location="cpu", weights_only=True
    )
    del checkpoint["state_dict"]["model.module.hgs.0.0.low1.bn2.running_var"]
    source = tmp_path / "incomplete.pt"
    torch.save(checkpoint, source)
    out = tmp_path / "out.ckpt"
    assert import_torch.main([str(source), "--out", str(out)]) == 1
    assert "missing (1): hgs.0.0.low1.bn2.moving_variance" in capsys.readouterr().err
    assert not out.exists()


@pytest.fixture(scope="module")
def imported_checkpoint(golden_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch", reason=TORCH_MISSING)
    out = tmp_path_factory.mktemp("imported") / "princeton_tiny.ckpt"
    assert import_torch.main([str(golden_dir / "princeton_tiny_nstack2_dim32.pt"), "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_exported_import_reproduces_reference_forward(
    imported_checkpoint: Path, golden_forward: dict[str, np.ndarray], tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    """Import, then export at 128 px through the CLI: both files reproduce the reference's output."""
    argv = ["--ckpt", str(imported_checkpoint), "--name", "princeton_tiny", "--version", "1"]
    argv += ["--repo", str(repo), "--input-size", "128", "--data", "golden random weights", "--epochs", "7"]
    assert export.main(argv) == 0
    version_dir = repo / "princeton_tiny" / "1"
    assert load_network(imported_checkpoint)[1] == NetworkConfig(nstack=2, features=32, num_joints=16)
    metadata = read_metadata(version_dir)
    assert (metadata.input.height, metadata.output.heatmap_height, metadata.features) == (128, 32, 32)
    assert metadata.provenance["data"] == "golden random weights"
    assert metadata.provenance["epochs"] == 7
    assert metadata.provenance["checkpoint"] == imported_checkpoint.name

    images, expected = golden_forward["input_nhwc"], golden_forward["output"]
    from_onnx = export.run_onnx(version_dir / ONNX_FILE, images)
    from_mindir = nn.GraphCell(ms.load(str(version_dir / MINDIR_FILE)))(ms.Tensor(images)).asnumpy()
    assert np.abs(from_onnx - expected).max() <= GOLDEN_TOLERANCE
    assert np.abs(from_mindir - expected).max() <= GOLDEN_TOLERANCE
