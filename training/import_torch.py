"""Convert a PyTorch reference checkpoint (princeton-vl/pytorch_stacked_hourglass) to our MindSpore `.ckpt`.

    python -m training.import_torch CHECKPOINT.pt --out OUT.ckpt

The reference saves {'state_dict', 'optimizer', 'epoch'} with keys `model.module.<name>`. Its BN tensors
become MindSpore's gamma/beta/moving_mean/moving_variance, and the three places where the reference and the
ModelZoo nest their Conv wrappers differently are renamed. nstack, features and joints follow from the keys;
the result is loaded strictly into a fresh network before it is written, so a written file always loads.
torch is an optional dependency used only here.
"""

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from training.checkpoints import load_strict, save_checkpoint
from training.import_cli import run_importer
from training.network import count_parameters, infer_config

TORCH_KEY_PREFIXES = ("model.module.", "module.")
BN_RENAMES = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}
DROPPED_SUFFIX = ".num_batches_tracked"
_BN_OWNER = re.compile(r"(^|\.)bn\d*$")
# (reference pattern, ModelZoo replacement): Conv+BN wrappers gain a level, Merge wrappers lose one.
STRUCTURE_RENAMES = (
    (re.compile(r"^pre\.0\.conv\.(weight|bias)$"), r"pre.0.conv.conv.\1"),
    (re.compile(r"^features\.(\d+)\.1\.conv\.(weight|bias)$"), r"features.\1.1.conv.conv.\2"),
    (re.compile(r"^merge_(features|preds)\.(\d+)\.conv\.conv\.(weight|bias)$"), r"merge_\1.\2.conv.\3"),
)


def torch_to_mindspore_name(key: str) -> str | None:
    """Our parameter name for a reference state-dict key; None for entries with no counterpart."""
    if key.endswith(DROPPED_SUFFIX):
        return None
    name = next((key[len(prefix) :] for prefix in TORCH_KEY_PREFIXES if key.startswith(prefix)), key)
    owner, _, leaf = name.rpartition(".")
    if _BN_OWNER.search(owner) and leaf in BN_RENAMES:
        return f"{owner}.{BN_RENAMES[leaf]}"
    for pattern, replacement in STRUCTURE_RENAMES:
        if pattern.match(name):
            return pattern.sub(replacement, name)
    return name


def convert_state_dict(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename a reference state dict (values as numpy arrays) to our names, as float32."""
    converted: dict[str, np.ndarray] = {}
    for key, value in state_dict.items():
        name = torch_to_mindspore_name(key)
        if name is None:
            continue
        if name in converted:
            raise ValueError(f"two reference keys map to {name!r} (second: {key!r})")
        converted[name] = np.ascontiguousarray(value, dtype=np.float32)
    return converted


def read_torch_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(state dict as numpy arrays, other plain entries such as 'epoch') of a reference checkpoint."""
    try:
        import torch
    except ImportError as error:
        raise SystemExit(
            "importing PyTorch checkpoints needs torch: pip install 'hourglass-pose[torch]'"
        ) from error
    checkpoint = torch.load(str(path), map_location="cpu", weights_only=True)
    state_dict = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path} holds no state dict")
    arrays = {key: value.detach().numpy() for key, value in state_dict.items() if torch.is_tensor(value)}
    extras = {key: value for key, value in checkpoint.items() if isinstance(value, int | float | str)}
    return arrays, extras


def import_torch_checkpoint(source: Path, out: Path) -> dict[str, Any]:
    """Convert `source` into `out`; returns a summary (config, parameter count, reference extras)."""
    arrays, extras = read_torch_checkpoint(source)
    params = convert_state_dict(arrays)
    config = infer_config(params)
    net = config.build()
    load_strict(net, params)
    save_checkpoint({p.name: params[p.name] for p in net.get_parameters()}, out)
    return {
        "nstack": config.nstack,
        "features": config.features,
        "num_joints": config.num_joints,
        "trainable_parameters": count_parameters(net),
        "reference": extras,
    }


def main(argv: list[str] | None = None) -> int:
    return run_importer(
        argv,
        "python -m training.import_torch",
        __doc__ or "",
        "reference checkpoint.pt",
        import_torch_checkpoint,
    )


if __name__ == "__main__":
    sys.exit(main())
