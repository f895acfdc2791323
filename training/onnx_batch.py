"""Make a MindSpore-exported ONNX hourglass truly batch-dynamic (docs/reference.md#mindspore-export).

`mindspore.onnx.export(..., dynamic_axes=...)` marks the input's batch as symbolic but gives every Resize
node a constant `sizes` input that carries the export-time batch; onnxruntime then returns wrong rows
1..N-1 for larger batches without raising. Our network's only resizes are the hourglass's nearest x2
upsamplings, so each Resize gets the constant `scales` [1, 1, 2, 2] with an empty `roi` (required by opset
11) and no `sizes`. The output's batch dimension is made symbolic as well. The export's parity check on a
batch larger than the export-time one is what proves the result.
"""

import numpy as np
import onnx
from onnx import numpy_helper

UPSAMPLE_SCALES = np.array([1.0, 1.0, 2.0, 2.0], dtype=np.float32)
SCALES_NAME = "upsample2x_scales"
ROI_NAME = "upsample2x_roi"
BATCH_AXIS_NAME = "batch"


class OnnxRewriteError(RuntimeError):
    """The exported graph does not have the structure the rewrite expects."""


def _drop_unused(model: onnx.ModelProto) -> None:
    """Remove Constant nodes and initializers that no node reads any longer."""
    graph = model.graph
    graph_outputs = {output.name for output in graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | graph_outputs
        dead = [n for n in graph.node if n.op_type == "Constant" and not set(n.output) & used]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {name for node in graph.node for name in node.input}
    for initializer in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(initializer)


def upsample_by_scales(model: onnx.ModelProto) -> int:
    """Rewrite every Resize to scales [1,1,2,2]; returns how many were rewritten."""
    resizes = [node for node in model.graph.node if node.op_type == "Resize"]
    if not resizes:
        raise OnnxRewriteError("no Resize nodes: the graph is not an exported hourglass")
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(np.zeros(0, dtype=np.float32), ROI_NAME),
            numpy_helper.from_array(UPSAMPLE_SCALES, SCALES_NAME),
        ]
    )
    for node in resizes:
        data = node.input[0]
        del node.input[:]
        node.input.extend([data, ROI_NAME, SCALES_NAME])
    _drop_unused(model)
    return len(resizes)


def make_output_batch_dynamic(model: onnx.ModelProto) -> None:
    for output in model.graph.output:
        dim = output.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_param = BATCH_AXIS_NAME


def make_batch_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """Apply both rewrites in place and validate the model with the ONNX checker."""
    upsample_by_scales(model)
    make_output_batch_dynamic(model)
    onnx.checker.check_model(model)
    return model
