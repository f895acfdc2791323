"""The Docker deployment, checked without a Docker engine (none runs here or in CI).

compose.yaml is validated against the Compose Specification's JSON schema (as vendored by the
check-jsonschema package), the Dockerfiles are linted with hadolint, and both are cross-checked against
the code they ship: COPY sources, the service's settings (HGPOSE_*) and its health route.
"""

import importlib.resources
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from fastapi.testclient import TestClient
from helpers import REPO_ROOT

from service.app import create_app
from service.settings import Settings

DOCKERFILES = {
    "cpu": REPO_ROOT / "docker" / "Dockerfile.cpu",
    "ascend": REPO_ROOT / "docker" / "Dockerfile.ascend",
}
SERVICES = {"cpu": "pose-cpu", "ascend": "pose-ascend"}
HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in logical]


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    steps = instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def env_of(steps: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in steps:
        if keyword == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return env


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(vendored.read_text())


def test_compose_file_follows_the_compose_specification(compose, compose_schema):
    jsonschema.validate(compose, compose_schema)


@pytest.mark.parametrize(
    ("service", "key", "value"),
    [
        ("pose-ascend", "devices", "/dev/davinci0"),
        ("pose-cpu", "healthcheck", {"start_perod": "60s"}),
        (
            "pose-cpu",
            "volumes",
            [{"type": "bind", "source": "./model_repo", "target": "/models", "ro": True}],
        ),
    ],
)
def test_the_schema_check_catches_mistakes(compose, compose_schema, service, key, value):
    broken = json.loads(json.dumps(compose))
    broken["services"][service][key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema)


def test_check_jsonschema_cli_agrees():
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(REPO_ROOT / "compose.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("flavour", DOCKERFILES)
def test_dockerfile_passes_hadolint_at_the_strictest_threshold(flavour):
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILES[flavour])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("flavour", DOCKERFILES)
def test_everything_copied_exists_and_is_in_the_build_context(flavour):
    allowed = [
        line[1:].rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    sources = []
    for keyword, args in instructions(DOCKERFILES[flavour]):
        if keyword == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), (
            f"{DOCKERFILES[flavour].name} copies {source}, which does not exist"
        )
        assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed), (
            f"{source} is excluded from the build context by .dockerignore"
        )


@pytest.mark.parametrize("flavour", DOCKERFILES)
def test_healthchecks_probe_the_services_ready_route_on_its_port(flavour, compose, tmp_path):
    # Without entering the lifespan no model loads: a known route answers 503 (not ready), not 404.
    health = TestClient(create_app(Settings(model_repo=tmp_path)))
    stage = final_stage(DOCKERFILES[flavour])
    env = env_of(stage)
    port = env["HGPOSE_PORT"]
    (healthcheck,) = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    service = compose["services"][SERVICES[flavour]]
    probes = [healthcheck, " ".join(service["healthcheck"]["test"])]
    for probe in probes:
        (url_port, path) = HEALTH_URL.search(probe).groups()
        assert path == "/health/ready"
        assert health.get(path).status_code == 503
        assert url_port == port
    assert ("EXPOSE", port) in stage
    assert all(mapping.endswith(f":{port}") for mapping in service["ports"])


@pytest.mark.parametrize("flavour", DOCKERFILES)
def test_every_hgpose_variable_is_a_service_setting(flavour, compose):
    fields = set(Settings.model_fields)
    variables = set(env_of(final_stage(DOCKERFILES[flavour]))) | set(
        compose["services"][SERVICES[flavour]]["environment"]
    )
    hgpose = {name for name in variables if name.startswith("HGPOSE_")}
    assert hgpose
    unknown = {name for name in hgpose if name.removeprefix("HGPOSE_").lower() not in fields}
    assert not unknown, f"not settings of the service: {unknown}"


@pytest.mark.parametrize("flavour", DOCKERFILES)
def test_runs_as_a_non_root_user_with_the_model_repository_read_only(flavour, compose):
    stage = final_stage(DOCKERFILES[flavour])
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert env_of(stage)["HGPOSE_MODEL_REPO"] == "/models"
    service = compose["services"][SERVICES[flavour]]
    (models,) = [v for v in service["volumes"] if v["target"] == "/models"]
    assert models["read_only"] is True and models["source"].endswith("model_repo}")
    assert service["profiles"] == [flavour]


def test_ascend_service_gets_the_npu_devices_driver_and_settings(compose):
    service = compose["services"]["pose-ascend"]
    assert service["devices"] == [
        "/dev/davinci${ASCEND_DEVICE:-0}",
        "/dev/davinci_manager",
        "/dev/devmm_svm",
        "/dev/hisi_hdc",
    ]
    mounts = {v["source"]: v for v in service["volumes"]}
    for host_path in ("/usr/local/Ascend/driver", "/usr/local/dcmi", "/usr/local/bin/npu-smi"):
        assert mounts[host_path]["target"] == host_path and mounts[host_path]["read_only"] is True
    assert service["environment"]["HGPOSE_BACKEND"] == "lite"
    assert "HGPOSE_LITE_DEVICE_ID" in service["environment"]
    start_period = service["healthcheck"]["start_period"]
    assert start_period.endswith("m") and int(start_period[:-1]) >= 10


def test_ascend_image_sets_the_cann_environment_and_takes_the_lite_wheel_as_argument():
    steps = instructions(DOCKERFILES["ascend"])
    assert steps[0] == ("ARG", steps[0][1]) and steps[0][1].startswith("CANN_IMAGE=")
    assert {args for keyword, args in steps if keyword == "FROM"} == {
        "${CANN_IMAGE} AS build",
        "${CANN_IMAGE}",
    }
    assert ("ARG", 'MSLITE_WHEEL=""') in steps
    env = env_of(final_stage(DOCKERFILES["ascend"]))
    for name in ("ASCEND_HOME_PATH", "ASCEND_OPP_PATH", "ASCEND_AICPU_PATH", "TOOLCHAIN_HOME"):
        assert env[name].startswith("${ASCEND_TOOLKIT_HOME}")
    for path in ("/usr/local/Ascend/driver/lib64/driver", "${ASCEND_TOOLKIT_HOME}/lib64"):
        assert path in env["LD_LIBRARY_PATH"].removesuffix("${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}").split(
            ":"
        )
    assert "${ASCEND_TOOLKIT_HOME}/python/site-packages" in env["PYTHONPATH"]
    assert env["PATH"].startswith("${ASCEND_TOOLKIT_HOME}/bin:") and env["PATH"].endswith("${PATH}")
