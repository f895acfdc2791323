"""The KServe manifests (deploy/kserve), checked without a cluster (none runs here or in CI).

Each overlay is rendered by kustomize (as built into kubectl) and every object is validated with jsonschema
against the openAPIV3Schema of KServe's own CRDs (tests/fixtures/kserve, from a KServe release), strictly:
a field the schema does not declare fails, as the API server's strict field validation rejects it. Then
the objects are cross-checked against what they deploy: the runtime must start our image's service with
valid settings on the ports it declares, speak the protocol the InferenceService asks for, serve the
model format it names, mount the model repository where the service reads it, and match deploy/k8s
(settings, resources, users, driver mounts), which the Kubernetes tests check against the images.
"""

import copy
import json
import os
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from helpers import FIXTURES, REPO_ROOT
from manifests import (
    ASCEND_HOST_PATHS,
    K8S,
    by_kind,
    cpu_cores,
    dockerfile_final_stage,
    env_values,
    kustomize,
)

from core.model_repo import SCHEMA_VERSION
from runtime.repository.folders import version_folders
from service.app import create_app
from service.settings import Settings

KSERVE = REPO_ROOT / "deploy" / "kserve"
OVERLAYS = ("cpu", "ascend", "ascend310")
IMAGE_OF = {"cpu": "cpu", "ascend": "ascend", "ascend310": "ascend"}
DOCKERFILE_OF = {"cpu": "Dockerfile.cpu", "ascend": "Dockerfile.ascend"}
NPU_RESOURCES = {"cpu": None, "ascend": "huawei.com/Ascend910", "ascend310": "huawei.com/Ascend310"}
SERVING_RUNTIME, CLUSTER_SERVING_RUNTIME, INFERENCE_SERVICE = (
    "ServingRuntime",
    "ClusterServingRuntime",
    "InferenceService",
)
# The openAPIV3Schema of each KServe kind's served version, extracted from the release's CRDs.
SCHEMA_FILES = {
    ("serving.kserve.io/v1alpha1", SERVING_RUNTIME): "servingruntimes.v1alpha1.schema.json",
    ("serving.kserve.io/v1alpha1", CLUSTER_SERVING_RUNTIME): "clusterservingruntimes.v1alpha1.schema.json",
    ("serving.kserve.io/v1beta1", INFERENCE_SERVICE): "inferenceservices.v1beta1.schema.json",
}
# KServe's fixed points: where the storage initializer (or a pvc:// mount) puts the model, the model server
# container's name, and the Open Inference Protocol's names in KServe (REST and gRPC).
KSERVE_MODEL_DIR = "/mnt/models"
KSERVE_CONTAINER = "kserve-container"
OIP_PROTOCOLS = ["v2", "grpc-v2"]
OIP_READY, OIP_LIVE = "/v2/health/ready", "/v2/health/live"
# Settings the runtime sets that the service takes from the Open Inference Protocol's arrival on.
OIP_SETTINGS = {"HGPOSE_GRPC_PORT"}


@cache
def schema(api_version: str, kind: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "kserve" / SCHEMA_FILES[(api_version, kind)]).read_text())


def strict(node: Any) -> Any:
    """The schema with every object that lists its properties closed to others (additionalProperties false),
    except where it keeps unknown fields (x-kubernetes-preserve-unknown-fields) or has its own rule."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    closed = {key: strict(value) for key, value in node.items()}
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields", False)
    ):
        closed["additionalProperties"] = False
    return closed


@cache
def validator(api_version: str, kind: str) -> jsonschema.Draft4Validator:
    # OpenAPI 3.0 schemas are JSON Schema draft 4/5 (boolean exclusiveMinimum and so on).
    return jsonschema.Draft4Validator(strict(schema(api_version, kind)))


def validate(doc: dict[str, Any]) -> None:
    """Raises jsonschema.ValidationError when `doc` does not follow its KServe kind's schema."""
    key = (doc["apiVersion"], doc["kind"])
    assert key in SCHEMA_FILES, f"not a KServe kind this test knows: {key}"
    validator(*key).validate(doc)


def as_cluster_runtime(runtime: dict[str, Any]) -> dict[str, Any]:
    cluster = copy.deepcopy(runtime)
    cluster["kind"] = CLUSTER_SERVING_RUNTIME
    return cluster


def server(runtime: dict[str, Any]) -> dict[str, Any]:
    (container,) = runtime["spec"]["containers"]
    return container


def k8s_server(overlay: str) -> dict[str, Any]:
    (container,) = k8s_rendered(overlay)["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


@cache
def k8s_rendered(overlay: str) -> dict[str, dict[str, Any]]:
    return by_kind(kustomize(K8S / "overlays" / overlay))


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, dict[str, Any]]]:
    return {overlay: by_kind(kustomize(KSERVE / "overlays" / overlay)) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def app_routes() -> set[str]:
    """GET paths of the service, from its own OpenAPI description."""
    paths = create_app(Settings(model_repo=Path("/nonexistent"))).openapi()["paths"]
    return {path for path, operations in paths.items() if "get" in operations}


def test_the_fixture_schemas_are_the_crds_of_their_kinds():
    for (api_version, kind), _ in SCHEMA_FILES.items():
        loaded = schema(api_version, kind)
        assert loaded["type"] == "object"
        assert {"apiVersion", "kind", "metadata", "spec", "status"} <= set(loaded["properties"])
    runtime = schema("serving.kserve.io/v1alpha1", SERVING_RUNTIME)["properties"]["spec"]
    assert {"supportedModelFormats", "protocolVersions", "containers"} <= set(runtime["properties"])
    predictor = schema("serving.kserve.io/v1beta1", INFERENCE_SERVICE)["properties"]["spec"]["properties"]
    assert {"runtime", "modelFormat", "protocolVersion", "storageUri"} <= set(
        predictor["predictor"]["properties"]["model"]["properties"]
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_follows_kserves_schema(rendered, overlay):
    docs = rendered[overlay]
    assert set(docs) == {SERVING_RUNTIME, INFERENCE_SERVICE}
    for doc in docs.values():
        validate(doc)
    # The same runtime can be shared by every namespace as a ClusterServingRuntime (same spec).
    validate(as_cluster_runtime(docs[SERVING_RUNTIME]))


def kustomizations() -> list[Path]:
    return sorted(KSERVE.rglob("kustomization.yaml"))


def test_every_file_is_a_validated_resource_or_a_patch_of_an_overlay():
    resources: set[Path] = set()
    patches: set[Path] = set()
    for path in kustomizations():
        kustomization = yaml.safe_load(path.read_text())
        for entry in kustomization.get("resources", []):
            target = (path.parent / entry).resolve()
            if target.is_file():
                resources.add(target)
        patches |= {
            (path.parent / p["path"]).resolve() for p in kustomization.get("patches", []) if "path" in p
        }
    files = {p.resolve() for p in KSERVE.rglob("*.yaml")} - {p.resolve() for p in kustomizations()}
    assert files == resources | patches, "a YAML file under deploy/kserve that no kustomization uses"
    # Resources are whole objects: validated as written too, not only once rendered.
    for resource in resources:
        for doc in yaml.safe_load_all(resource.read_text()):
            validate(doc)


# A mistake in each object: a misspelled field (caught only by the strict check), a wrong type, a value out
# of the schema's range, a missing required field.
MISTAKES = [
    (SERVING_RUNTIME, ["spec", "protocolVersion"], ["v2"]),
    (SERVING_RUNTIME, ["spec", "containers", 0, "ports", 0, "containerPort"], "8080"),
    (SERVING_RUNTIME, ["spec", "supportedModelFormats", 0, "priority"], 0),
    (SERVING_RUNTIME, ["spec", "containers", 0, "readinesProbe"], {"httpGet": {"path": "/"}}),
    (INFERENCE_SERVICE, ["spec", "predictor", "minReplicas"], "two"),
    (INFERENCE_SERVICE, ["spec", "predictor", "model", "protocolVersions"], "v2"),
    (INFERENCE_SERVICE, ["spec", "predictor", "model", "resources", "limits", "cpu"], "two cores"),
    (INFERENCE_SERVICE, ["spec", "predictor", "model", "modelFormat"], {"version": "1"}),
]


@pytest.mark.parametrize(("kind", "path", "value"), MISTAKES)
def test_the_schema_check_catches_mistakes(rendered, kind, path, value):
    broken = copy.deepcopy(rendered["cpu"][kind])
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_a_broken_overlay_fails_the_check(tmp_path):
    """The whole path, from a manifest file through kustomize to the schema, catches a misspelled field."""
    overlay = tmp_path / "broken"
    shutil.copytree(KSERVE / "overlays" / "cpu", overlay)
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization["resources"] = [os.path.relpath(KSERVE / "base", overlay)]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    patch = yaml.safe_load((overlay / "inferenceservice-patch.yaml").read_text())
    patch["spec"]["predictor"]["model"]["storageURI"] = "pvc://hourglass-pose-models"
    (overlay / "inferenceservice-patch.yaml").write_text(yaml.safe_dump(patch))
    (service,) = [doc for doc in kustomize(overlay) if doc["kind"] == INFERENCE_SERVICE]
    with pytest.raises(jsonschema.ValidationError, match="'storageURI' was unexpected"):
        validate(service)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_inference_service_selects_the_runtime_by_name_format_and_protocol(rendered, overlay):
    runtime = rendered[overlay][SERVING_RUNTIME]
    service = rendered[overlay][INFERENCE_SERVICE]
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"] in [
        {"name": f["name"], "version": f["version"]} for f in runtime["spec"]["supportedModelFormats"]
    ]
    # The format is our model repository, whose metadata schema version the service reads.
    assert model["modelFormat"]["version"] == str(SCHEMA_VERSION)
    assert runtime["spec"]["protocolVersions"] == OIP_PROTOCOLS
    assert model["protocolVersion"] == "v2"
    assert runtime["spec"]["multiModel"] is False
    # Two ports: only KServe's Standard mode (a Deployment and Service) forwards more than one.
    assert service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_runtime_starts_the_images_service_on_the_ports_it_declares(rendered, overlay):
    container = server(rendered[overlay][SERVING_RUNTIME])
    assert container["name"] == KSERVE_CONTAINER
    assert container["image"] == f"hourglass-pose:{IMAGE_OF[overlay]}"
    stage = dockerfile_final_stage(DOCKERFILE_OF[IMAGE_OF[overlay]])
    (cmd,) = re.findall(r"\nCMD (\[.*\])\n", stage)
    assert container["command"] == json.loads(cmd)
    assert "args" not in container
    env = env_values(container)
    http, grpc = container["ports"]
    # KServe's Service sends port 80 to the first port and takes a port named "grpc" for gRPC (h2c).
    assert (http["name"], str(http["containerPort"])) == ("http", env["HGPOSE_PORT"])
    assert (grpc["name"], str(grpc["containerPort"])) == ("grpc", env["HGPOSE_GRPC_PORT"])
    assert env["HGPOSE_HOST"] == "0.0.0.0"
    annotations = rendered[overlay][SERVING_RUNTIME]["spec"]["annotations"]
    assert annotations["prometheus.kserve.io/port"] == env["HGPOSE_PORT"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_probes_are_the_protocols_health_routes_on_the_http_port(rendered, app_routes, overlay):
    container = server(rendered[overlay][SERVING_RUNTIME])
    probes = {
        kind: container[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert probes["readinessProbe"]["path"] == OIP_READY
    assert probes["livenessProbe"]["path"] == probes["startupProbe"]["path"] == OIP_LIVE
    assert {probe["port"] for probe in probes.values()} == {"http"}
    annotations = rendered[overlay][SERVING_RUNTIME]["spec"]["annotations"]
    assert annotations["prometheus.kserve.io/path"] in app_routes


def test_the_probe_routes_are_routes_of_the_service(app_routes):
    assert {OIP_READY, OIP_LIVE} <= app_routes


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_hgpose_variable_is_a_valid_setting(rendered, overlay, monkeypatch):
    env = env_values(server(rendered[overlay][SERVING_RUNTIME]))
    names = {name for name in env if name.startswith("HGPOSE_")}
    unknown = {n for n in names if n.removeprefix("HGPOSE_").lower() not in Settings.model_fields}
    assert not unknown, f"not settings of the service: {unknown}"
    for name in names:
        monkeypatch.setenv(name, env[name])
    settings = Settings()
    assert (str(settings.model_repo), settings.port) == (KSERVE_MODEL_DIR, int(env["HGPOSE_PORT"]))


def test_the_grpc_port_is_a_setting():
    assert {name.removeprefix("HGPOSE_").lower() for name in OIP_SETTINGS} <= set(Settings.model_fields)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_runtime_is_configured_as_the_kubernetes_deployment(rendered, overlay):
    """The same settings as deploy/k8s's overlay apart from where it listens and reads the models."""
    placement = {"HGPOSE_HOST", "HGPOSE_PORT", "HGPOSE_MODEL_REPO"} | OIP_SETTINGS
    ours = env_values(server(rendered[overlay][SERVING_RUNTIME]))
    theirs = env_values(k8s_server(overlay))
    assert {k: v for k, v in ours.items() if k not in placement} == {
        k: v for k, v in theirs.items() if k not in placement
    }


def test_the_model_is_the_repository_on_the_kubernetes_claim_where_the_service_reads_it(rendered):
    for overlay in OVERLAYS:
        service = rendered[overlay][INFERENCE_SERVICE]
        env = env_values(server(rendered[overlay][SERVING_RUNTIME]))
        assert env["HGPOSE_MODEL_REPO"] == KSERVE_MODEL_DIR
        claim = k8s_rendered(overlay)["PersistentVolumeClaim"]
        assert service["spec"]["predictor"]["model"]["storageUri"] == f"pvc://{claim['metadata']['name']}"
        assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]
        # The Open Inference Protocol's path names the model; KServe's host names the InferenceService.
        assert service["metadata"]["name"] in {name for name, _ in version_folders(REPO_ROOT / "model_repo")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_runs_as_the_images_user_on_a_read_only_root_with_a_writable_tmp(rendered, overlay):
    runtime = rendered[overlay][SERVING_RUNTIME]
    container = server(runtime)
    stage = dockerfile_final_stage(DOCKERFILE_OF[IMAGE_OF[overlay]])
    (uid, gid) = re.findall(r"\nUSER (\d+):(\d+)\n", stage)[-1]
    context = container["securityContext"]
    assert (str(context["runAsUser"]), str(context["runAsGroup"])) == (uid, gid)
    assert context["runAsNonRoot"] is True
    for key in ("readOnlyRootFilesystem", "allowPrivilegeEscalation", "capabilities"):
        assert context[key] == k8s_server(overlay)["securityContext"][key]
    pod = rendered[overlay][INFERENCE_SERVICE]["spec"]["predictor"]["securityContext"]
    assert pod == k8s_rendered(overlay)["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    volumes = {v["name"]: v for v in runtime["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shutdown_fits_in_the_grace_period(rendered, overlay):
    container = server(rendered[overlay][SERVING_RUNTIME])
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    graceful_s = float(env_values(container)["HGPOSE_GRACEFUL_SHUTDOWN_S"])
    grace_s = rendered[overlay][INFERENCE_SERVICE]["spec"]["predictor"]["terminationGracePeriodSeconds"]
    assert grace_s > float(command[1]) + graceful_s


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_resources_and_npu_node_match_the_kubernetes_overlay(rendered, overlay):
    predictor = rendered[overlay][INFERENCE_SERVICE]["spec"]["predictor"]
    resources = predictor["model"]["resources"]
    assert resources == k8s_server(overlay)["resources"]
    npu = {name for name in resources["requests"] | resources["limits"] if name.startswith("huawei.com/")}
    expected = NPU_RESOURCES[overlay]
    assert npu == ({expected} if expected else set())
    if expected:
        assert resources["requests"][expected] == resources["limits"][expected] == "1"
        assert predictor["nodeSelector"] == {"accelerator": f"huawei-{expected.removeprefix('huawei.com/')}"}
        assert 1000 in predictor["securityContext"]["supplementalGroups"]
    else:
        assert "nodeSelector" not in predictor
        env = env_values(server(rendered[overlay][SERVING_RUNTIME]))
        assert cpu_cores(resources["limits"]["cpu"]) == int(env["HGPOSE_ORT_INTRA_OP_THREADS"])


@pytest.mark.parametrize("overlay", ["ascend", "ascend310"])
def test_ascend_runtime_gets_the_driver_a_writable_home_and_time_to_compile(rendered, overlay):
    runtime = rendered[overlay][SERVING_RUNTIME]
    container = server(runtime)
    volumes = {v["name"]: v for v in runtime["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for path, kind in ASCEND_HOST_PATHS.items():
        assert mounts[path]["readOnly"] is True
        assert volumes[mounts[path]["name"]]["hostPath"] == {"path": path, "type": kind}
    home = re.findall(r"\nWORKDIR (\S+)\n", dockerfile_final_stage("Dockerfile.ascend"))[-1]
    assert "emptyDir" in volumes[mounts[home]["name"]]
    assert container["startupProbe"] == k8s_server(overlay)["startupProbe"] | {
        "httpGet": {"path": OIP_LIVE, "port": "http"}
    }


def test_cpu_runtime_gives_up_starting_sooner_than_ascend(rendered):
    def budget(overlay: str) -> int:
        startup = server(rendered[overlay][SERVING_RUNTIME])["startupProbe"]
        return startup["periodSeconds"] * startup["failureThreshold"]

    assert 60 <= budget("cpu") < budget("ascend") == budget("ascend310")
