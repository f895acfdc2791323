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


def test_lite_batch_gears_come_from_a_comma_separated_list_with_the_flip_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().lite_batch_gears == (1, 2, 4, 8)
    monkeypatch.setenv("HGPOSE_LITE_BATCH_GEARS", "16, 1,4,4")
    assert Settings().lite_batch_gears == (1, 2, 4, 16)  # sorted, distinct, 2 added for one person + flip


@pytest.mark.parametrize(
    ("gears", "message"),
    [
        ("0,4", "1..2048"),
        ("4096", "1..2048"),
        (",".join(str(g) for g in range(1, 102)), "at most 100"),
        ("one,two", "invalid literal"),
    ],
)
def test_lite_batch_gears_ascend_cannot_take_are_refused(gears: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(lite_batch_gears=gears)
