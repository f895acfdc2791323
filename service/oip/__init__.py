"""The Open Inference Protocol edge (KServe's "v2", as Triton speaks it): REST routes under /v2, the gRPC
service of KServe's grpc_predict_v2.proto, and the models both expose, all driving the one PoseRuntime.

tensors: datatypes and tensor data in every form the protocol carries; calls: an infer call and its result
in either protocol; rest: the REST bodies (JSON and the binary tensor extension); models: the OIP models
(the pose pipeline, the bare network) over the runtime; errors: the protocol's answers to errors; schemas
and http: the REST routes; proto and grpc_server: the gRPC service.
"""

OIP_PATH_PREFIX = "/v2"
# The server name OIP's server metadata reports, over REST and gRPC.
SERVER_NAME = "hourglass-pose"
