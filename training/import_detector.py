"""Write the person-detector version folder from the upstream YOLOX-Nano ONNX file, which it copies unchanged.

    python -m training.import_detector yolox_nano.onnx --out model_repo/person_detector --version 1
        [--mindir CONVERTED.mindir]

The file must be the recorded upstream one (its sha256 is checked) and have the graph the metadata
describes: input `images` (1, 3, 416, 416), output `output` (1, 3549, 85), a raw YOLOX head over 80 COCO
classes. The version folder gets `model.onnx` and a `metadata.json` (core.model_repo.DetectorMetadata) with
the preprocessing YOLOX trained with since its release 0.1.1rc0 (BGR, 0-255, no mean/std, letterbox at the
top-left on 114 grey) and the weights' provenance. The model card beside it says how it was verified.

`--mindir` adds MindSpore Lite's conversion of that file (`converter_lite --fmk=ONNX`, docs/deploy.md) as
`model.mindir`, for the Lite backend; its one graph input must still be (1, 3, 416, 416), NCHW (a batch of
-1 too, for a conversion of a dynamic-batch export). Reading it needs MindSpore (the training extra).
"""

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.model_repo import (
    BGR,
    FP32,
    LETTERBOX,
    MINDIR_FILE,
    NCHW,
    ONNX_FILE,
    TOP_LEFT,
    YOLOX_HEAD,
    DetectorInputSpec,
    DetectorMetadata,
    DetectorOutputSpec,
    ModelRepositoryError,
    describe_file,
    install_version_dir,
    sha256_file,
    write_metadata,
)

MODEL_NAME = "person_detector"
INPUT_SIZE = 416
STRIDES = (8, 16, 32)
PAD_VALUE = 114.0
INPUT_NAME = "images"
OUTPUT_NAME = "output"

# The 80 COCO detection classes in the order of the head's class scores; person is index 0.
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip
PERSON_CLASS = COCO_CLASSES.index("person")

UPSTREAM_SHA256 = "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"
UPSTREAM_BYTES = 3_660_092
PROVENANCE: dict[str, Any] = {
    "model": "YOLOX-Nano (Ge et al. 2021, YOLOX: Exceeding YOLO Series in 2021), 0.91 M parameters",
    "upstream_project": "https://github.com/Megvii-BaseDetection/YOLOX",
    "weights": "yolox_nano.pth of YOLOX release 0.1.1rc0, trained by Megvii on COCO train2017",
    "source": {
        "repository": "https://github.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample",
        "path": "model/yolox_nano.onnx",
        "commit": "0f785c070ce8da070aeaeef46c0da7904ff7012e",
        "url": (
            "https://raw.githubusercontent.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/"
            "0f785c070ce8da070aeaeef46c0da7904ff7012e/model/yolox_nano.onnx"
        ),
        "sha256": UPSTREAM_SHA256,
        "bytes": UPSTREAM_BYTES,
        "exported_with": "YOLOX tools/export_onnx.py under PyTorch 1.10 (ONNX opset 11)",
        "repository_license": "Apache-2.0",
    },
    "license": "Apache-2.0",
    "license_text": "LICENSE beside the version folders (YOLOX's, Copyright (c) 2021-2022 Megvii Inc.)",
    "official_release_asset": {
        "url": "https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx",
        "sha256": "c789161ed43c8269fcd4e67c67eeeb4e80c622da2eb296a20bc6007bd18a0b7d",
        "bytes": 3_659_407,
        "relation": "another export of the same weights; see the model card for how that was checked",
    },
    "training_data": "COCO 2017 (real photographs)",
    "published_accuracy": {
        "metric": "COCO val2017 AP@[.5:.95], all classes",
        "value": 25.8,
        "input_size": [INPUT_SIZE, INPUT_SIZE],
        "where": "YOLOX README model zoo and demo/ONNXRuntime/README.md (release 0.1.1rc0 weights)",
    },
}


def detector_metadata(
    version: int, model_path: Path, mindir: tuple[str, list[int]] | None
) -> DetectorMetadata:
    """The version's metadata; `mindir`: the graph input (name, dims) of a converted model.mindir beside
    model.onnx, listed too."""
    files = {ONNX_FILE: describe_file(model_path)}
    exporter = {"tool": "training.import_detector", "change": "none: the upstream file, byte for byte"}
    if mindir is not None:
        files[MINDIR_FILE] = describe_file(model_path.with_name(MINDIR_FILE))
        name, dims = mindir
        exporter[MINDIR_FILE] = (
            f"MindSpore Lite converter_lite's conversion of {ONNX_FILE}, input {name} {dims}"
        )
    return DetectorMetadata(
        name=MODEL_NAME,
        version=version,
        input=DetectorInputSpec(
            height=INPUT_SIZE,
            width=INPUT_SIZE,
            layout=NCHW,
            color=BGR,
            resize=LETTERBOX,
            pad_value=PAD_VALUE,
            pad_position=TOP_LEFT,
            name=INPUT_NAME,
        ),
        output=DetectorOutputSpec(
            format=YOLOX_HEAD, num_classes=len(COCO_CLASSES), strides=STRIDES, name=OUTPUT_NAME
        ),
        class_names=COCO_CLASSES,
        person_class=PERSON_CLASS,
        files=files,
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        exporter=exporter,
        provenance=PROVENANCE,
        precision=FP32,
    )


def _dims(value_info: Any) -> list[int | str]:
    return [d.dim_value or d.dim_param for d in value_info.type.tensor_type.shape.dim]


def check_graph(path: Path) -> None:
    """Raise ModelRepositoryError unless the graph takes and gives what the metadata says."""
    import onnx

    graph = onnx.load(str(path)).graph
    anchors = sum((INPUT_SIZE // s) ** 2 for s in STRIDES)
    expected = {
        "input": ([INPUT_NAME], [[1, 3, INPUT_SIZE, INPUT_SIZE]]),
        "output": ([OUTPUT_NAME], [[1, anchors, 5 + len(COCO_CLASSES)]]),
    }
    found = {
        "input": ([i.name for i in graph.input], [_dims(i) for i in graph.input]),
        "output": ([o.name for o in graph.output], [_dims(o) for o in graph.output]),
    }
    if found != expected:
        raise ModelRepositoryError(f"{path}: the graph has {found}, the detector metadata needs {expected}")


def check_mindir(path: Path) -> tuple[str, list[int]]:
    """The converted MINDIR's one graph input (name, dims); ModelRepositoryError unless it takes the ONNX
    graph's input, NCHW, with a batch of 1 or a dynamic one (-1)."""
    from training.export import mindir_inputs

    try:
        inputs = mindir_inputs(path)
    except Exception as error:  # protobuf's DecodeError and friends: not a MINDIR
        raise ModelRepositoryError(f"{path} is not a readable MINDIR: {error}") from error
    if len(inputs) != 1 or inputs[0][1] not in (
        [1, 3, INPUT_SIZE, INPUT_SIZE],
        [-1, 3, INPUT_SIZE, INPUT_SIZE],
    ):
        raise ModelRepositoryError(
            f"{path}: graph inputs {inputs}; the conversion must keep one input [1 or -1, 3, {INPUT_SIZE}, "
            f"{INPUT_SIZE}] (NCHW: converter_lite --inputDataFormat=NCHW if it changed the layout)"
        )
    return inputs[0]


def import_detector(
    source: Path, out: Path, version: int, force: bool, mindir: Path | None = None
) -> DetectorMetadata:
    digest = sha256_file(source)
    if digest != UPSTREAM_SHA256:
        raise ModelRepositoryError(
            f"{source} has sha256 {digest}; the recorded upstream file has {UPSTREAM_SHA256}"
        )
    check_graph(source)
    mindir_input = None if mindir is None else check_mindir(mindir)
    with tempfile.TemporaryDirectory() as staging:
        model_path = Path(staging) / ONNX_FILE
        shutil.copyfile(source, model_path)
        if mindir is not None:
            shutil.copyfile(mindir, Path(staging) / MINDIR_FILE)
        metadata = detector_metadata(version, model_path, mindir_input)
        write_metadata(Path(staging), metadata)
        install_version_dir(Path(staging), out / str(version), force)
    return metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.import_detector", description=__doc__.split("\n")[0]
    )
    parser.add_argument("source", type=Path, help="the upstream yolox_nano.onnx")
    parser.add_argument("--out", type=Path, required=True, help=f"model folder, e.g. model_repo/{MODEL_NAME}")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="replace an existing version folder")
    parser.add_argument("--mindir", type=Path, help="converter_lite's conversion of the file, for Lite")
    args = parser.parse_args(argv)
    try:
        metadata = import_detector(args.source, args.out, args.version, args.force, args.mindir)
    except ModelRepositoryError as error:
        print(f"import failed, nothing written: {error}", file=sys.stderr)
        return 1
    classes = metadata.output.num_classes
    print(f"wrote {args.out / str(args.version)}: {classes} classes, {ONNX_FILE} sha256 {UPSTREAM_SHA256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
