"""MindSpore Lite backend (Ascend, GPU or CPU target) on the exported MINDIR, written to the Lite 2.4+ API.

What it relies on, from the mindspore_lite Python sources and the Lite docs (see service/README.md):
- tensors are property-style (`name`, `shape`, `dtype`, `element_num`, `data_size`); the 2.0-alpha getters
  (`get_shape()`...) do not exist in the releases that ship Python 3.11 wheels;
- `Model.build_from_file(path, ModelType.MINDIR, context, config_path="", config_dict=None)`, with
  `config_dict` = {section: {key: str}}; cloud-side Lite builds `.mindir` files only (MindSpore's export, or
  converter_lite's output with `--saveType=MINDIR`), not device-side `.ms` files (`ModelType.MINDIR_LITE`);
- the pose export's MINDIR has a dynamic batch, which Ascend and GPU need declared at build time:
  `[ascend_context]` `input_shape=NAME:[-1,S,S,3]` plus `dynamic_dims=[1],[2],...` gears (Ascend then runs
  only those batch sizes), `[gpu_context]` the same `input_shape` with a `dynamic_dims=[lo~hi]` range and
  `opt_dims`; the CPU target needs no declaration; a MINDIR with a fixed batch (the person detector
  converted from its batch-1 ONNX graph) needs none either and runs that batch only;
- NAME must be the input name as Lite sees it: learnt here by building once on the CPU target and reading
  `get_inputs()[0].name` (no guessing), so the file must build there: converter_lite's `--optimize=none`
  output does, its `ascend_oriented` output (Ascend only) does not (docs/deploy.md);
- one `Model` must not run `predict` concurrently, and `resize` must precede data of a new batch size.

It has never run on an NPU or a GPU: it is tested against a test double of that API only.
"""

import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from runtime.backends.base import BackendError
from runtime.options import LiteOptions

LITE_MODULE = "mindspore_lite"
DYNAMIC_TARGETS = ("ascend", "gpu")
LiteConfig = dict[str, dict[str, str]]  # build_from_file's config_dict: {section: {key: value}}


def import_lite() -> ModuleType:
    """The mindspore_lite package, or BackendError saying where it comes from."""
    try:
        return importlib.import_module(LITE_MODULE)
    except ImportError as error:
        raise BackendError(
            "the MindSpore Lite backend needs the mindspore_lite package, which comes from MindSpore's "
            "release site for the host's CANN version (not PyPI); see service/README.md"
        ) from error


def dynamic_batch_config(
    target: str, input_name: str, sample_shape: Sequence[int], gears: Sequence[int]
) -> LiteConfig:
    """The `config_dict` declaring the dynamic batch for `target` (empty for CPU, which needs none).

    `sample_shape` is one sample's shape (H, W, C); the batch dimension is declared as -1.
    """
    shape = f"{input_name}:[{','.join(str(d) for d in (-1, *sample_shape))}]"
    if target == "ascend":
        return {"ascend_context": {"input_shape": shape, "dynamic_dims": ",".join(f"[{g}]" for g in gears)}}
    if target == "gpu":
        return {
            "gpu_context": {
                "input_shape": shape,
                "dynamic_dims": f"[{min(gears)}~{max(gears)}]",
                "opt_dims": f"[{max(gears)}]",
            }
        }
    return {}


def _context(lite: ModuleType, target: str, options: LiteOptions) -> Any:
    context = lite.Context()
    context.target = [target]
    if target == "ascend":
        context.ascend.device_id = options.device_id
        context.ascend.precision_mode = options.precision_mode
    elif target == "gpu":
        context.gpu.device_id = options.device_id
        context.gpu.precision_mode = options.precision_mode
    context.cpu.thread_num = options.cpu_threads
    return context


def build_model(
    lite: ModuleType, model_path: Path, target: str, options: LiteOptions, config: LiteConfig | None = None
) -> Any:
    """A built Lite Model, or BackendError naming the file, target and declaration."""
    model = lite.Model()
    try:
        model.build_from_file(
            str(model_path),
            lite.ModelType.MINDIR,
            _context(lite, target, options),
            config_dict=config or None,
        )
    except (RuntimeError, ValueError, TypeError) as error:
        declared = f" with {config}" if config else ""
        raise BackendError(
            f"MindSpore Lite cannot build {model_path.name} on {target}{declared}: {error}"
        ) from error
    return model


@dataclass(frozen=True)
class LiteInput:
    """The model's one input as Lite reports it: its name, its batch size (-1 when dynamic) and one
    sample's shape (H, W, C)."""

    name: str
    batch: int
    sample_shape: tuple[int, ...]

    @property
    def dynamic_batch(self) -> bool:
        return self.batch < 1


def lite_input(model: Any, model_path: Path) -> LiteInput:
    """A built model's one input as Lite reports it."""
    inputs = model.get_inputs()
    if len(inputs) != 1:
        raise BackendError(f"{model_path.name} has {len(inputs)} inputs, the backend runs models with one")
    shape = [int(d) for d in inputs[0].shape]
    return LiteInput(name=str(inputs[0].name), batch=shape[0], sample_shape=tuple(shape[1:]))


class LiteBackend:
    """One Lite Model; on Ascend and GPU a model with a dynamic batch runs only the configured batch gears
    (`batch_sizes`), and a model with a fixed batch (a detector exported for one image) only that batch."""

    name = "lite"

    def __init__(self, model_path: Path, options: LiteOptions) -> None:
        lite = import_lite()
        # the input as Lite sees it, from a CPU-target build, which needs no declaration
        probe = build_model(lite, model_path, "cpu", options)
        self.input = lite_input(probe, model_path)
        self.batch_sizes: tuple[int, ...] | None = None
        if not self.input.dynamic_batch:
            self.batch_sizes = (self.input.batch,)
        if options.target in DYNAMIC_TARGETS and self.input.dynamic_batch:
            self.batch_sizes = options.gears
            config = dynamic_batch_config(
                options.target, self.input.name, self.input.sample_shape, options.gears
            )
            self._model = build_model(lite, model_path, options.target, options, config)
        elif options.target == "cpu":
            self._model = probe
        else:
            self._model = build_model(lite, model_path, options.target, options)
        self.devices: list[str] = [options.target]
        self._inputs = self._model.get_inputs()
        # a fixed batch is the input's shape already: such a model is never resized
        self._batch: int | None = None if self.input.dynamic_batch else self.input.batch
        self._lock = threading.Lock()

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Heatmaps for a batch whose size is one of `batch_sizes` (any size on the CPU target)."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        size = len(batch)
        if self.batch_sizes is not None and size not in self.batch_sizes:
            raise BackendError(
                f"a batch of {size} is not one of the configured gears {list(self.batch_sizes)}"
            )
        with self._lock:
            if size != self._batch:
                self._model.resize(self._inputs, [[size, *self.input.sample_shape]])
                self._batch = size
            self._inputs[0].set_data_from_numpy(batch)
            outputs = self._model.predict(self._inputs)
            return np.array(outputs[0].get_data_to_numpy(), dtype=np.float32, copy=True)

    def close(self) -> None:
        with self._lock:
            del self._model
