"""Clips with exact ground truth (tests/video_clips.py), made once per test run."""

import pytest
from video_clips import (
    CLIP_FORMATS,
    Clip,
    Walker,
    encode_clip,
    mpii_camera_clip,
    synthetic_people_clip,
    two_walkers_and_a_newcomer,
)


@pytest.fixture(scope="session")
def mpii_clip() -> Clip:
    return mpii_camera_clip(0)


@pytest.fixture(scope="session")
def encoded_mpii(mpii_clip: Clip) -> dict[tuple[str, str | None], bytes]:
    """The MPII clip in every container and codec of CLIP_FORMATS."""
    return {(container, codec): encode_clip(mpii_clip, container, codec) for container, codec in CLIP_FORMATS}


@pytest.fixture(scope="session")
def walkers_clip() -> tuple[Clip, tuple[Walker, ...]]:
    return two_walkers_and_a_newcomer()


@pytest.fixture(scope="session")
def steady_pair_clip() -> Clip:
    """Two walkers who stay well inside the picture for 26 frames."""
    walkers = (Walker((60, 100), (110, 100), height=110), Walker((190, 95), (160, 95), height=100))
    return synthetic_people_clip(walkers, 26, seed=3)
