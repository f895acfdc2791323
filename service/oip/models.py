"""The OIP models: each repository model NAME is served twice, whatever the protocol (REST or gRPC).

- NAME, the pose pipeline: inputs IMAGE (BYTES [1], the encoded image file; UINT8 [n], the file's bytes,
  is taken too), BOXES (FP32 [-1, 4], x1 y1 x2 y2 in image pixels; optional: without it the person
  detector finds the persons) and FLIP (BOOL [1], optional, default true); outputs KEYPOINTS (FP32
  [-1, J, 3]: x, y, score of each joint in image pixels) and PERSON_BOXES (FP32 [-1, 4]: BOXES, or the
  boxes found), one row per person. In JSON, IMAGE's element is the file in base64.
- NAME-net, the bare network for callers who crop themselves: CROPS (FP32 [-1, H, W, 3], the version's
  input layout: RGB pixel values x its pixel_scale) in, HEATMAPS (FP32 [-1, nstack, J, H/4, W/4], every
  stack; the pipeline decodes the last) out, through the same batcher.

Only pose models are OIP models; detectors serve the pipeline (and /v1/detect).
"""

import asyncio
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.model_repo import POSE
from runtime.engine import PoseRuntime
from runtime.errors import ModelNotReadyError, UnknownModelError
from runtime.pipeline.regions import PersonSpec
from runtime.repository.snapshot import ModelRepository
from runtime.repository.version import LoadedModel
from service.errors import ServiceError
from service.oip.calls import InferRequest, InferResult, RequestedOutput
from service.oip.tensors import BOOL, BYTES, FP32, UINT8, Tensor, TensorError
from service.payload import decode_base64

NETWORK_SUFFIX = "-net"
IMAGE, BOXES, FLIP = "IMAGE", "BOXES", "FLIP"
KEYPOINTS, PERSON_BOXES = "KEYPOINTS", "PERSON_BOXES"
CROPS, HEATMAPS = "CROPS", "HEATMAPS"
VARIABLE = -1  # a dimension of any size, as OIP's metadata writes it


@dataclass(frozen=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelRef:
    """An OIP model name resolved: the repository model behind it and which face of it."""

    name: str
    repository_name: str
    kind: Literal["pose", "network"]


@dataclass(frozen=True)
class ModelDescription:
    """An OIP model's metadata; `parameters` says which version, on what backend and why."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    parameters: dict[str, str]


def oip_names(repository_name: str) -> tuple[str, str]:
    """The two OIP models of a repository model: the pose pipeline and the bare network."""
    return repository_name, repository_name + NETWORK_SUFFIX


def resolve(name: str, snapshot: ModelRepository) -> ModelRef:
    """The OIP model `name` among the served ones; UnknownModelError naming them otherwise."""
    pose_models = sorted(model for model in snapshot.models if snapshot.kind_of(model) == POSE)
    if name in pose_models:
        return ModelRef(name, name, "pose")
    base = name.removesuffix(NETWORK_SUFFIX)
    if base != name and base in pose_models:
        return ModelRef(name, base, "network")
    served = ", ".join(n for model in pose_models for n in oip_names(model)) or "none"
    raise UnknownModelError(f"unknown model {name!r} (served: {served})")


def repository_name(name: str, snapshot: ModelRepository) -> str:
    """The repository model an OIP name refers to, for the repository extension (served or not)."""
    base = name.removesuffix(NETWORK_SUFFIX)
    return base if base != name and name not in snapshot.models else name


def parse_version(name: str, version: str) -> int | None:
    """OIP versions are strings: '' means the default version, else the version folder's number."""
    if not version:
        return None
    if not (version.isascii() and version.isdigit()) or version.startswith("0"):
        raise UnknownModelError(f"model {name!r} has no version {version!r}")
    return int(version)


def input_specs(ref: ModelRef, model: LoadedModel) -> list[TensorSpec]:
    if ref.kind == "pose":
        return [
            TensorSpec(IMAGE, BYTES, (1,)),
            TensorSpec(BOXES, FP32, (VARIABLE, 4)),
            TensorSpec(FLIP, BOOL, (1,)),
        ]
    size = model.metadata.input
    return [TensorSpec(CROPS, FP32, (VARIABLE, size.height, size.width, 3))]


def output_specs(ref: ModelRef, model: LoadedModel) -> list[TensorSpec]:
    out = model.metadata.output
    if ref.kind == "pose":
        return [
            TensorSpec(KEYPOINTS, FP32, (VARIABLE, out.num_joints, 3)),
            TensorSpec(PERSON_BOXES, FP32, (VARIABLE, 4)),
        ]
    return [
        TensorSpec(
            HEATMAPS, FP32, (VARIABLE, out.nstack, out.num_joints, out.heatmap_height, out.heatmap_width)
        )
    ]


def describe(runtime: PoseRuntime, name: str, version: str) -> ModelDescription:
    """The metadata of OIP model `name` at `version` ('' for the default); runtime errors when it cannot
    serve."""
    snapshot = runtime.repository.snapshot
    ref = resolve(name, snapshot)
    model = snapshot.resolve(ref.repository_name, parse_version(name, version), None)
    ready = sorted((v.version for v in snapshot.loaded() if v.name == ref.repository_name), reverse=True)
    parameters = {
        "version": str(model.version),
        "precision": model.metadata.precision,
        "backend": model.key.backend_name,
        "backend_reason": model.key.backend.reason,
    }
    default = snapshot.default_choice(ref.repository_name)
    if not version and default is not None:
        parameters["default_reason"] = default.reason
    return ModelDescription(
        name,
        [str(v) for v in ready],
        model.key.backend_name,
        input_specs(ref, model),
        output_specs(ref, model),
        parameters,
    )


def is_ready(runtime: PoseRuntime, name: str, version: str) -> bool:
    """Whether OIP model `name` can serve `version` ('' for the default); UnknownModelError when it does not
    exist."""
    snapshot = runtime.repository.snapshot
    ref = resolve(name, snapshot)
    try:
        snapshot.resolve(ref.repository_name, parse_version(name, version), None)
    except ModelNotReadyError:
        return False
    return True


def _by_name(inputs: list[Tensor], specs: list[TensorSpec], model: str) -> dict[str, Tensor]:
    known = {spec.name for spec in specs}
    found: dict[str, Tensor] = {}
    for tensor in inputs:
        if tensor.name not in known:
            raise TensorError(
                f"model {model!r} has no input {tensor.name!r} (inputs: {', '.join(sorted(known))})"
            )
        if tensor.name in found:
            raise TensorError(f"input {tensor.name!r} is given twice")
        found[tensor.name] = tensor
    return found


def _require(inputs: dict[str, Tensor], name: str, datatypes: tuple[str, ...]) -> Tensor:
    tensor = inputs.get(name)
    if tensor is None:
        raise TensorError(f"input {name!r} is required")
    if tensor.datatype not in datatypes:
        raise TensorError(f"input {name!r} must be {' or '.join(datatypes)}, got {tensor.datatype}")
    return tensor


async def _image_bytes(tensor: Tensor) -> bytes:
    """The encoded image file: IMAGE's one BYTES element (base64 text when it came as JSON), or its UINT8
    bytes."""
    if tensor.datatype == UINT8:
        if tensor.data.ndim == 1 or (tensor.data.ndim == 2 and tensor.data.shape[0] == 1):
            return tensor.data.tobytes()
        raise TensorError(f"a UINT8 IMAGE has shape [n] or [1, n] (the file's bytes), got {tensor.shape}")
    if tensor.data.size != 1:
        raise TensorError(f"IMAGE holds one encoded image (shape [1]), got shape {tensor.shape}")
    element = tensor.data.flat[0]
    if isinstance(element, bytes):
        return element
    try:
        return await asyncio.to_thread(decode_base64, element, "IMAGE (in JSON, the file in base64)")
    except ServiceError as error:
        raise TensorError(error.message) from error


def _persons(tensor: Tensor | None) -> list[PersonSpec] | None:
    if tensor is None:
        return None
    if tensor.datatype != FP32 or tensor.data.ndim != 2 or tensor.data.shape[1] != 4:
        raise TensorError(
            f"BOXES is FP32 of shape [-1, 4] (x1, y1, x2, y2), got {tensor.datatype} {tensor.shape}"
        )
    if not len(tensor.data):
        raise TensorError("BOXES holds no box")
    return [PersonSpec(box=(float(x1), float(y1), float(x2), float(y2))) for x1, y1, x2, y2 in tensor.data]


def _flip(tensor: Tensor | None) -> bool:
    if tensor is None:
        return True
    if tensor.datatype != BOOL or tensor.data.size != 1:
        raise TensorError(f"FLIP is one BOOL (shape [1]), got {tensor.datatype} {tensor.shape}")
    return bool(tensor.data.flat[0])


async def _pose(
    runtime: PoseRuntime, model: LoadedModel, inputs: dict[str, Tensor], deadline: float
) -> list[Tensor]:
    image = await _image_bytes(_require(inputs, IMAGE, (BYTES, UINT8)))
    found = await runtime.estimate(
        model, image, _persons(inputs.get(BOXES)), _flip(inputs.get(FLIP)), deadline
    )
    keypoints = found.keypoints
    rows = np.concatenate([keypoints.image_xy, keypoints.scores[..., None]], axis=-1).astype(np.float32)
    boxes = np.stack([region.box for region in found.regions]).astype(np.float32)
    return [Tensor(KEYPOINTS, FP32, rows), Tensor(PERSON_BOXES, FP32, boxes)]


async def _network(
    runtime: PoseRuntime, model: LoadedModel, inputs: dict[str, Tensor], deadline: float
) -> list[Tensor]:
    crops = _require(inputs, CROPS, (FP32,))
    heatmaps = await runtime.run_network(model, crops.data, deadline)
    return [Tensor(HEATMAPS, FP32, heatmaps.astype(np.float32, copy=False))]


def _select(outputs: list[Tensor], requested: list[RequestedOutput] | None, model: str) -> list[Tensor]:
    if requested is None:
        return outputs
    by_name = {tensor.name: tensor for tensor in outputs}
    for output in requested:
        if output.name not in by_name:
            raise TensorError(
                f"model {model!r} has no output {output.name!r} (outputs: {', '.join(by_name)})"
            )
    return [by_name[output.name] for output in requested]


async def infer(
    runtime: PoseRuntime, name: str, version: str, request: InferRequest, deadline: float
) -> InferResult:
    """Run OIP model `name` at `version` ('' for the default) on the request's inputs, by `deadline`.

    Raises TensorError for inputs that do not fit the model, runtime errors for the rest.
    """
    ref = resolve(name, runtime.repository.snapshot)
    with runtime.lease(ref.repository_name, parse_version(name, version)) as model:
        inputs = _by_name(request.inputs, input_specs(ref, model), name)
        run = _pose if ref.kind == "pose" else _network
        outputs = await run(runtime, model, inputs, deadline)
    return InferResult(name, str(model.version), request.id, _select(outputs, request.outputs, name))
