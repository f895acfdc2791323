import pytest

from runtime.backends.cpu_isa import ONEDNN_ISA_VARIABLE, cpu_flags, has_avx512, limit_onednn_isa


def test_reads_flags_from_cpuinfo(tmp_path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert {"avx2", "avx512f"} <= cpu_flags(cpuinfo)
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_caps_onednn_only_on_avx512(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ONEDNN_ISA_VARIABLE, raising=False)
    assert limit_onednn_isa(frozenset({"avx2"})) is None
    assert limit_onednn_isa(frozenset({"avx2", "avx512f"})) == "AVX2"


def test_respects_a_users_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ONEDNN_ISA_VARIABLE, "AVX512_CORE")
    assert limit_onednn_isa(frozenset({"avx512f"})) == "AVX512_CORE"
    assert has_avx512(frozenset({"avx512vl"}))
