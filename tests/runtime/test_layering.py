"""Imports run edge -> runtime -> core, never back: the runtime knows no HTTP, core no framework."""

import subprocess
import sys

import pytest
from helpers import REPO_ROOT

FORBIDDEN = {
    "runtime": ("fastapi", "starlette", "uvicorn", "h11", "grpc", "service", "training", "clients"),
    "core": ("runtime", "service", "training", "clients", "onnxruntime", "openvino", "mindspore", "torch"),
}


def modules_of(package: str) -> list[str]:
    return sorted(
        ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (REPO_ROOT / package).rglob("*.py")
        if "__main__" not in path.name
    )


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_importing_every_module_of_a_layer_loads_nothing_above_it(package: str) -> None:
    modules = modules_of(package)
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(FORBIDDEN[package])!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"{package} pulls in {result.stdout.strip()}"
