import pytest
from pydantic import ValidationError

from service.settings import Settings


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGPOSE_MAX_BATCH", "4")
    monkeypatch.setenv("HGPOSE_BACKEND", "mindspore")
    settings = Settings()
    assert settings.max_batch == 4
    assert settings.backend == "mindspore"


def test_an_empty_api_key_turns_authentication_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HGPOSE_API_KEY", "")
    assert Settings().api_key is None
    monkeypatch.setenv("HGPOSE_API_KEY", "s3cret")
    assert Settings().api_key == "s3cret"


def test_a_queue_too_small_for_one_request_is_refused() -> None:
    with pytest.raises(ValidationError, match="queue_size"):
        Settings(queue_size=4, max_persons=16)
