"""Memory figures of an exported network per crop, from its ONNX graph: what each batch gear costs.

    python benchmarks/activation_memory.py model_repo/hourglass/6/model.onnx

Prints, for one crop (batch fixed at 1 by ONNX shape inference), the number of intermediate tensors, the
sum of their fp32 sizes (an upper bound on activation memory: a runtime reusing buffers needs less), the
largest one, and the weights, which a runtime holds once whatever the batch. Activations grow linearly with
the batch, so a gear of N crops costs up to N times the per-crop sum.
"""

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import shape_inference

FLOAT32_BYTES = 4
MIB = 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="an exported model.onnx")
    args = parser.parse_args()
    model = onnx.load(str(args.model))
    for value in model.graph.input:
        value.type.tensor_type.shape.dim[0].dim_value = 1
    inferred = shape_inference.infer_shapes(model)
    sizes = []
    for value in (*inferred.graph.value_info, *inferred.graph.output):
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        if dims and all(d > 0 for d in dims):
            sizes.append(int(np.prod(dims)) * FLOAT32_BYTES)
    weights = sum(int(np.prod(t.dims)) * FLOAT32_BYTES for t in model.graph.initializer)
    print(f"intermediate tensors per crop: {len(sizes)}")
    print(f"activations per crop (sum, fp32): {sum(sizes) / MIB:.1f} MiB")
    print(f"largest activation: {max(sizes) / MIB:.2f} MiB")
    print(f"weights (held once): {weights / MIB:.1f} MiB")


if __name__ == "__main__":
    main()
