"""The PyTorch cross-check (benchmarks/torch_learning_curve.py) trains the reference network, and what it
saves imports into ours."""

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from training.import_torch import import_torch_checkpoint

pytest.importorskip(
    "torch", reason="torch is optional (extra 'torch'); CI installs it so these tests run there"
)
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "torch_learning_curve.py"


@pytest.fixture(scope="module")
def curve_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("torch_learning_curve", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_its_network_reproduces_the_reference_forward_pass(curve_script: ModuleType) -> None:
    assert curve_script.check_against_golden() <= 1e-4


def test_a_changed_network_is_refused(curve_script: ModuleType, tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    golden.mkdir()
    (golden / "princeton_tiny_nstack2_dim32.pt").symlink_to(
        curve_script.GOLDEN / "princeton_tiny_nstack2_dim32.pt"
    )
    expected = dict(np.load(curve_script.GOLDEN / "princeton_tiny_forward.npz"))
    expected["output"] = expected["output"] + 1e-3
    np.savez(golden / "princeton_tiny_forward.npz", **expected)
    with pytest.raises(RuntimeError, match="differs from the reference"):
        curve_script.check_against_golden(golden)


def test_what_it_saves_imports_into_our_network(curve_script: ModuleType, tmp_path: Path) -> None:
    net = curve_script.PoseNet(2, 32)
    args = curve_script.argparse.Namespace(out=tmp_path, data=tmp_path, features=32)
    curve_script.write_outputs(args, net, [])
    summary = import_torch_checkpoint(tmp_path / "model.pt", tmp_path / "imported.ckpt")
    assert (summary["nstack"], summary["features"]) == (2, 32)
    assert summary["trainable_parameters"] == sum(p.numel() for p in net.parameters() if p.requires_grad)
