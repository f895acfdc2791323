"""KServe's grpc_predict_v2.proto (beside this module; its licence in its header, its source in
service/README.md), compiled when first imported by grpcio-tools' protoc into a descriptor pool of its own.

No generated code is kept: the messages are built from the compiled descriptors. A pool of its own, not
protobuf's default one, because tritonclient and kserve register their own `inference.*` messages in the
default pool, and two definitions of one name cannot share a pool: a process may hold a client and this
server together (the tests do).
"""

import tempfile
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_tools import protoc

PROTO_FILE = Path(__file__).with_name("grpc_predict_v2.proto")
SERVICE_NAME = "inference.GRPCInferenceService"


def _compile(proto: Path) -> descriptor_pb2.FileDescriptorSet:
    with tempfile.TemporaryDirectory(prefix="hgpose-proto-") as folder:
        output = Path(folder) / "descriptors.pb"
        status = protoc.main(
            ["protoc", f"--proto_path={proto.parent}", f"--descriptor_set_out={output}", proto.name]
        )
        if status != 0:
            raise RuntimeError(f"protoc could not compile {proto.name} (exit status {status})")
        return descriptor_pb2.FileDescriptorSet.FromString(output.read_bytes())


_POOL = descriptor_pool.DescriptorPool()
for _file in _compile(PROTO_FILE).file:
    _POOL.Add(_file)

SERVICE = _POOL.FindServiceByName(SERVICE_NAME)


def message_class(name: str) -> Any:
    """The class of message `inference.<name>` (nested ones as Outer.Inner)."""
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"inference.{name}"))
