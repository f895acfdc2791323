"""The MindSpore Lite backend against a TEST DOUBLE of the Lite 2.4+ API (not installable here).

The double (lite_api_double/mindspore_lite) enforces what the Lite sources and docs demand of a caller and
computes real outputs by running the exported ONNX model, so these tests check that the backend drives the
Lite API as documented. They say nothing about behaviour on a real NPU or GPU, where it has never run.
"""

import sys
import threading
from pathlib import Path
from types import ModuleType

import numpy as np
import onnxruntime as ort
import pytest
from service_helpers import load_lite_double

from core.model_repo import MINDIR_FILE, ONNX_FILE, read_metadata
from runtime.backends import BackendError
from runtime.backends.lite import LiteBackend, LiteOptions, build_model, dynamic_batch_config

pytestmark = pytest.mark.slow

GEARS = (1, 2, 4)
SIZE = 64


@pytest.fixture
def lite_double(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    double = load_lite_double()
    monkeypatch.setitem(sys.modules, "mindspore_lite", double)
    return double


def options(target: str, precision_mode: str = "enforce_fp32") -> LiteOptions:
    return LiteOptions(target=target, device_id=3, precision_mode=precision_mode, cpu_threads=2, gears=GEARS)


def onnx_reference(model_dir: Path, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(model_dir / ONNX_FILE), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def random_batch(size: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((size, SIZE, SIZE, 3), dtype=np.float32)


def build(double: ModuleType, mindir: Path, target: str, config: dict | None = None) -> object:
    context = double.Context()
    context.target = [target]
    model = double.Model()
    model.build_from_file(str(mindir), double.ModelType.MINDIR, context, config_dict=config)
    return model


def test_double_has_property_tensors_and_no_old_getters(
    lite_double: ModuleType, tiny_model_repo: Path
) -> None:
    mindir = tiny_model_repo / "tiny" / "1" / MINDIR_FILE
    tensor = build(lite_double, mindir, "cpu").get_inputs()[0]
    assert tensor.shape == [-1, SIZE, SIZE, 3]
    assert tensor.dtype == lite_double.DataType.FLOAT32
    assert tensor.name == read_metadata(mindir.parent).input.mindir_name  # two independent readings agree
    for getter in ("get_shape", "get_tensor_name", "get_data_type", "get_element_num", "get_data_size"):
        assert not hasattr(tensor, getter)
    with pytest.raises(AttributeError, match="no option"):
        lite_double.Context().ascend.precison_mode = "enforce_fp32"  # a typo is an error, not a no-op


def test_double_refuses_ascend_and_gpu_builds_without_a_declaration(
    lite_double: ModuleType, tiny_model_repo: Path
) -> None:
    mindir = tiny_model_repo / "tiny" / "1" / MINDIR_FILE
    name = read_metadata(mindir.parent).input.mindir_name
    for target in ("ascend", "gpu"):
        with pytest.raises(RuntimeError, match=f"needs \\[{target}_context\\] input_shape"):
            build(lite_double, mindir, target)
    with pytest.raises(RuntimeError, match="names input 'images'"):
        build(lite_double, mindir, "ascend", dynamic_batch_config("ascend", "images", (SIZE, SIZE, 3), GEARS))
    with pytest.raises(RuntimeError, match="declares"):
        build(lite_double, mindir, "ascend", dynamic_batch_config("ascend", name, (SIZE + 1, SIZE, 3), GEARS))
    gpu = dynamic_batch_config("gpu", name, (SIZE, SIZE, 3), GEARS)
    del gpu["gpu_context"]["opt_dims"]
    with pytest.raises(RuntimeError, match="opt_dims"):
        build(lite_double, mindir, "gpu", gpu)
    with pytest.raises(TypeError, match="str to str"):
        build(lite_double, mindir, "ascend", {"ascend_context": {"input_shape": 1}})
    with pytest.raises(RuntimeError, match="at most 100 gears"):
        build(lite_double, mindir, "ascend", dynamic_batch_config("ascend", name, (SIZE, SIZE, 3), [4096]))


def test_double_resizes_only_to_gears_on_ascend_and_within_the_range_on_gpu(
    lite_double: ModuleType, tiny_model_repo: Path
) -> None:
    mindir = tiny_model_repo / "tiny" / "1" / MINDIR_FILE
    name = read_metadata(mindir.parent).input.mindir_name
    ascend = build(
        lite_double, mindir, "ascend", dynamic_batch_config("ascend", name, (SIZE, SIZE, 3), (1, 2, 8))
    )
    ascend.resize(ascend.get_inputs(), [[8, SIZE, SIZE, 3]])
    with pytest.raises(RuntimeError, match="batch 4 is not among"):
        ascend.resize(ascend.get_inputs(), [[4, SIZE, SIZE, 3]])
    gpu = build(lite_double, mindir, "gpu", dynamic_batch_config("gpu", name, (SIZE, SIZE, 3), (1, 2, 8)))
    gpu.resize(gpu.get_inputs(), [[5, SIZE, SIZE, 3]])
    with pytest.raises(RuntimeError, match="batch 9 is not among"):
        gpu.resize(gpu.get_inputs(), [[9, SIZE, SIZE, 3]])


def test_double_catches_concurrent_predict_and_data_of_the_wrong_size(
    lite_double: ModuleType, tiny_model_repo: Path
) -> None:
    model = build(lite_double, tiny_model_repo / "tiny" / "1" / MINDIR_FILE, "cpu")
    inputs = model.get_inputs()
    model.resize(inputs, [[2, SIZE, SIZE, 3]])
    with pytest.raises(RuntimeError, match="data size not equal"):
        inputs[0].set_data_from_numpy(random_batch(3, 0))
    with pytest.raises(RuntimeError, match="data type not equal"):
        inputs[0].set_data_from_numpy(random_batch(2, 0).astype(np.float64))
    inputs[0].set_data_from_numpy(random_batch(2, 0))
    errors: list[Exception] = []

    def call() -> None:
        try:
            model.predict(inputs)
        except RuntimeError as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any("concurrently" in str(e) for e in errors)


@pytest.mark.parametrize("target", ["ascend", "gpu", "cpu"])
def test_backend_declares_the_dynamic_batch_and_matches_the_network(
    lite_double: ModuleType, tiny_model_repo: Path, target: str
) -> None:
    model_dir = tiny_model_repo / "tiny" / "1"
    backend = LiteBackend(model_dir / MINDIR_FILE, options(target))
    model = lite_double.built_models()[-1]
    name = read_metadata(model_dir).input.mindir_name
    assert model.context.target == [target]
    assert model.context.cpu.thread_num == 2
    shape = f"{name}:[-1,{SIZE},{SIZE},3]"
    if target == "ascend":
        assert (model.context.ascend.device_id, model.context.ascend.precision_mode) == (3, "enforce_fp32")
        assert model.config_dict == {"ascend_context": {"input_shape": shape, "dynamic_dims": "[1],[2],[4]"}}
        assert backend.batch_sizes == GEARS
    elif target == "gpu":
        assert (model.context.gpu.device_id, model.context.gpu.precision_mode) == (3, "enforce_fp32")
        assert model.config_dict == {
            "gpu_context": {"input_shape": shape, "dynamic_dims": "[1~4]", "opt_dims": "[4]"}
        }
        assert backend.batch_sizes == GEARS
    else:
        assert model.config_dict == {}
        assert backend.batch_sizes is None

    for seed, size in enumerate([1, 4, 4, 2]):
        batch = random_batch(size, seed)
        np.testing.assert_allclose(backend.infer(batch), onnx_reference(model_dir, batch), atol=1e-6)
    assert model.resize_calls == [[[1, SIZE, SIZE, 3]], [[4, SIZE, SIZE, 3]], [[2, SIZE, SIZE, 3]]]


@pytest.mark.parametrize("target", ["ascend", "gpu"])
def test_backend_refuses_a_batch_outside_its_gears(
    lite_double: ModuleType, tiny_model_repo: Path, target: str
) -> None:
    backend = LiteBackend(tiny_model_repo / "tiny" / "1" / MINDIR_FILE, options(target))
    with pytest.raises(BackendError, match=r"a batch of 3 is not one of the configured gears \[1, 2, 4\]"):
        backend.infer(random_batch(3, 0))


def test_a_wrong_input_name_fails_the_build_loudly(lite_double: ModuleType, tiny_model_repo: Path) -> None:
    mindir = tiny_model_repo / "tiny" / "1" / MINDIR_FILE
    config = dynamic_batch_config("ascend", "images", (SIZE, SIZE, 3), GEARS)
    with pytest.raises(BackendError, match=r"cannot build model\.mindir on ascend.*names input 'images'"):
        build_model(lite_double, mindir, "ascend", options("ascend"), config)


def test_backend_serialises_concurrent_calls(lite_double: ModuleType, tiny_model_repo: Path) -> None:
    model_dir = tiny_model_repo / "tiny" / "1"
    backend = LiteBackend(model_dir / MINDIR_FILE, options("ascend"))
    results: dict[int, np.ndarray] = {}

    def call(seed: int) -> None:
        results[seed] = backend.infer(random_batch(GEARS[seed % 3], seed))

    threads = [threading.Thread(target=call, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(8))
    for seed, output in results.items():
        expected = onnx_reference(model_dir, random_batch(GEARS[seed % 3], seed))
        np.testing.assert_allclose(output, expected, atol=1e-6)


def test_without_its_package_the_backend_says_where_lite_comes_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mindspore_lite", None)  # makes `import mindspore_lite` fail
    with pytest.raises(BackendError, match="MindSpore's release site"):
        LiteBackend(Path("model.mindir"), options("ascend"))
