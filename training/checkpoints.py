"""Strict checkpoint I/O for StackedHourglass: every network parameter present, nothing extra, shapes equal.

MindSpore's own loader only warns about parameters it could not match, which silently leaves random weights
in an exported model. Here any mismatch is an error that names the parameters. Optimizer and loop state that
training checkpoints carry next to the weights (Adam moments, step counters, learning rate, loss scale) is
recognised by name and skipped, since it is not part of the network.
"""

from collections.abc import Mapping
from pathlib import Path

import training.isa_cap  # noqa: F401  (before MindSpore's first import)

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn

from training.network import NetworkConfig, StackedHourglass, infer_config

TRAINING_STATE_PREFIXES = ("moment1.", "moment2.", "accum.", "adam_m.", "adam_v.")
TRAINING_STATE_NAMES = frozenset(
    {
        "beta1_power",
        "beta2_power",
        "global_step",
        "learning_rate",
        "current_iterator_step",
        "last_overflow_iterator_step",
        "epoch_num",
        "step_num",
        "scale_sense",
        "loss_scale",
    }
)
MAX_NAMES_IN_MESSAGE = 20


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the network: missing, unexpected or wrongly shaped parameters."""


def is_training_state(name: str) -> bool:
    return name in TRAINING_STATE_NAMES or name.startswith(TRAINING_STATE_PREFIXES)


def network_entries(raw: Mapping[str, Parameter]) -> dict[str, np.ndarray]:
    """The network entries of a loaded checkpoint as numpy arrays (training state left out)."""
    return {name: value.asnumpy() for name, value in raw.items() if not is_training_state(name)}


def read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """The network entries of a MindSpore `.ckpt` file."""
    return network_entries(ms.load_checkpoint(str(path)))


def save_checkpoint(params: Mapping[str, np.ndarray], path: Path) -> Path:
    """Write arrays as a MindSpore `.ckpt` in the given order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ms.save_checkpoint([{"name": name, "data": Tensor(value)} for name, value in params.items()], str(path))
    return path


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES_IN_MESSAGE])
    more = len(names) - MAX_NAMES_IN_MESSAGE
    return shown + (f" (+{more} more)" if more > 0 else "")


def check_compatible(net: nn.Cell, params: Mapping[str, np.ndarray]) -> None:
    """Raise CheckpointMismatchError naming every missing, unexpected or wrongly shaped parameter."""
    expected = {p.name: tuple(p.shape) for p in net.get_parameters()}
    missing = [name for name in expected if name not in params]
    unexpected = [name for name in params if name not in expected]
    wrong_shape = [
        f"{name} {tuple(np.shape(params[name]))} != {shape}"
        for name, shape in expected.items()
        if name in params and tuple(np.shape(params[name])) != shape
    ]
    problems = [
        f"{label} ({len(items)}): {_listing(items)}"
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong_shape))
        if items
    ]
    if problems:
        raise CheckpointMismatchError("checkpoint does not match the network: " + "; ".join(problems))


def load_strict(net: nn.Cell, params: Mapping[str, np.ndarray]) -> None:
    """Copy `params` into `net` after check_compatible; values are cast to the network's dtypes."""
    check_compatible(net, params)
    parameter_dict = {
        p.name: Parameter(Tensor(np.asarray(params[p.name]), dtype=p.dtype), name=p.name)
        for p in net.get_parameters()
    }
    not_loaded, unused = ms.load_param_into_net(net, parameter_dict, strict_load=True)
    if not_loaded or unused:
        raise CheckpointMismatchError(
            f"MindSpore left parameters unloaded: {_listing(list(not_loaded))}; "
            f"unused: {_listing(list(unused))}"
        )


def load_network(path: Path) -> tuple[StackedHourglass, NetworkConfig]:
    """Build the network a checkpoint describes (nstack, features, joints inferred) and load it strictly."""
    params = read_checkpoint(path)
    try:
        config = infer_config(params)
    except ValueError as error:
        raise CheckpointMismatchError(f"{path}: {error}") from error
    net = config.build()
    load_strict(net, params)
    return net, config
