"""Person-detector versions for the TEST DOUBLE of MindSpore Lite (tests/service/lite_api_double), which reads
a MINDIR's graph input from its protobuf and computes with the `model.onnx` beside it.

- `write_mindir_interface`: a MINDIR protobuf (mind_ir.proto's ModelProto) whose graph holds one input and
  nothing else: what the double reads. Real Lite cannot run it; it stands in for converter_lite's output.
- `shipped_detector_for_lite`: the shipped YOLOX-Nano version imported by training.import_detector with such
  a MINDIR of input `images` [1, 3, 416, 416], the fixed batch of the ONNX graph.
- `synthetic_dynamic_detector`: a tiny detector whose ONNX graph has a dynamic batch and answers in the
  suppressed format (two rows per image whose scores are means of that image), with a MINDIR of input
  `images` [-1, 3, 64, 64], to run at batch gears above one with padding.
"""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from helpers import REPO_ROOT

from core.model_repo import (
    FP32,
    MINDIR_FILE,
    ONNX_FILE,
    RGB,
    STRETCH,
    SUPPRESSED,
    DetectorInputSpec,
    DetectorMetadata,
    DetectorOutputSpec,
    describe_file,
    write_metadata,
)
from training.import_detector import import_detector

SHIPPED_DETECTOR = REPO_ROOT / "model_repo" / "person_detector" / "1"
DETECTOR_INPUT = "images"
SYNTHETIC_SIZE = 64
# The synthetic detector's two boxes (input pixels): every image gets both, scored by its own pixels.
SYNTHETIC_BOXES = np.array([[4.0, 6.0, 40.0, 60.0], [30.0, 2.0, 62.0, 50.0]], dtype=np.float32)


def write_mindir_interface(path: Path, input_name: str, dims: list[int]) -> Path:
    """A MINDIR whose graph has the one input `input_name` of `dims` (-1: dynamic), float32, nothing else."""
    from runtime.backends.cpu_isa import limit_onednn_isa

    limit_onednn_isa()  # before MindSpore is imported, as everywhere
    from mindspore.train.mind_ir_pb2 import ModelProto, TensorProto

    model = ModelProto(ir_version="0.1.1", producer_name="MindSpore", producer_version="2.10.0")
    model.graph.name = "detector_interface"
    value = model.graph.input.add(name=input_name)
    value.tensor.add(dims=dims, data_type=TensorProto.FLOAT)
    path.write_bytes(model.SerializeToString())
    return path


def shipped_detector_for_lite(repo: Path, staging: Path) -> Path:
    """The shipped detector as repo/person_detector/1 with model.onnx and a fixed-batch model.mindir."""
    mindir = write_mindir_interface(staging / "converted.mindir", DETECTOR_INPUT, [1, 3, 416, 416])
    import_detector(SHIPPED_DETECTOR / ONNX_FILE, repo / "person_detector", 1, force=False, mindir=mindir)
    return repo / "person_detector" / "1"


def synthetic_detector_onnx(path: Path) -> Path:
    """(N, 3, S, S) float32 -> (N, 2, 6) rows x1 y1 x2 y2 score class: SYNTHETIC_BOXES, scored by the mean
    of the whole image and of its first channel over 255, class 0."""
    import onnx
    from onnx import TensorProto, helper

    def constant(name: str, values: np.ndarray) -> onnx.NodeProto:
        return helper.make_node(
            "Constant",
            [],
            [name],
            value=helper.make_tensor(name, TensorProto.FLOAT, values.shape, values.ravel()),
        )

    nodes = [
        constant("scale", np.array(1 / 255, dtype=np.float32)),
        constant("boxes", SYNTHETIC_BOXES[None]),
        constant("zero", np.array(0.0, dtype=np.float32)),
        helper.make_node("ReduceMean", [DETECTOR_INPUT], ["mean_all"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Slice", [DETECTOR_INPUT, "c0_start", "c0_end", "c0_axis"], ["first_channel"]),
        helper.make_node("ReduceMean", ["first_channel"], ["mean_first"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["mean_all", "column"], ["all_n1"]),
        helper.make_node("Reshape", ["mean_first", "column"], ["first_n1"]),
        helper.make_node("Concat", ["all_n1", "first_n1"], ["means"], axis=1),
        helper.make_node("Mul", ["means", "scale"], ["scores_n2"]),
        helper.make_node("Reshape", ["scores_n2", "rows"], ["scores"]),
        helper.make_node("Mul", ["scores", "zero"], ["classes"]),
        helper.make_node("Add", ["classes", "boxes"], ["boxes_n"]),
        helper.make_node("Concat", ["boxes_n", "scores", "classes"], ["output"], axis=2),
    ]
    int64s = {"c0_start": [0], "c0_end": [1], "c0_axis": [1], "column": [-1, 1], "rows": [-1, 2, 1]}
    initializers = [helper.make_tensor(name, TensorProto.INT64, [len(v)], v) for name, v in int64s.items()]
    graph = helper.make_graph(
        nodes,
        "synthetic_detector",
        [
            helper.make_tensor_value_info(
                DETECTOR_INPUT, TensorProto.FLOAT, ["N", 3, SYNTHETIC_SIZE, SYNTHETIC_SIZE]
            )
        ],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 2, 6])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def synthetic_dynamic_detector(repo: Path, name: str = "tiny_detector") -> Path:
    """repo/NAME/1: the synthetic detector (suppressed rows, one class: person) with a dynamic-batch
    model.mindir interface beside its model.onnx."""
    version_dir = repo / name / "1"
    version_dir.mkdir(parents=True)
    synthetic_detector_onnx(version_dir / ONNX_FILE)
    write_mindir_interface(version_dir / MINDIR_FILE, DETECTOR_INPUT, [-1, 3, SYNTHETIC_SIZE, SYNTHETIC_SIZE])
    metadata = DetectorMetadata(
        name=name,
        version=1,
        input=DetectorInputSpec(height=SYNTHETIC_SIZE, width=SYNTHETIC_SIZE, color=RGB, resize=STRETCH),
        output=DetectorOutputSpec(format=SUPPRESSED, num_classes=1),
        class_names=("person",),
        person_class=0,
        files={file: describe_file(version_dir / file) for file in (ONNX_FILE, MINDIR_FILE)},
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        exporter={"tool": "tests/lite_detectors.py"},
        provenance={"weights": "none: a synthetic graph that scores two fixed boxes by the image's means"},
        precision=FP32,
    )
    write_metadata(version_dir, metadata)
    return version_dir
