"""One infer call with kserve's REST client, in a process of its own, printing the outputs as JSON.

    python kserve_rest_client.py URL MODEL IMAGE_FILE BOXES_JSON {binary,json} {flip,noflip}

kserve and tritonclient's gRPC module both put protobuf messages named `inference.*` in protobuf's default
pool, so no process can import the two; the tests import tritonclient and run kserve here. In binary mode
the inputs and outputs travel as raw bytes after the JSON (binary tensor extension), in JSON mode as JSON
values (IMAGE as the file in base64).
"""

import asyncio
import base64
import json
import sys
from pathlib import Path

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput


async def infer(url: str, model: str, image: bytes, boxes: np.ndarray, binary: bool, flip: bool) -> dict:
    image_element = image if binary else base64.b64encode(image)
    inputs = [
        InferInput("IMAGE", [1], "BYTES"),
        InferInput("BOXES", list(boxes.shape), "FP32"),
        InferInput("FLIP", [1], "BOOL"),
    ]
    for tensor, data in zip(
        inputs, (np.array([image_element], dtype=object), boxes, np.array([flip])), strict=True
    ):
        tensor.set_data_from_numpy(data, binary_data=binary)
    outputs = [RequestedOutput(name, {"binary_data": binary}) for name in ("KEYPOINTS", "PERSON_BOXES")]
    request = InferRequest(
        model_name=model, infer_inputs=inputs, request_id="kserve-1", request_outputs=outputs
    )
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0))
    response = await client.infer(url, request, model_name=model)
    return {
        "id": response.id,
        "outputs": {
            output.name: {
                "datatype": output.datatype,
                "shape": output.shape,
                "data": output.as_numpy().tolist(),
            }
            for output in response.outputs
        },
    }


def main(argv: list[str]) -> int:
    url, model, image_file, boxes, mode, flip = argv
    result = asyncio.run(
        infer(
            url,
            model,
            Path(image_file).read_bytes(),
            np.array(json.loads(boxes), dtype=np.float32),
            mode == "binary",
            flip == "flip",
        )
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
