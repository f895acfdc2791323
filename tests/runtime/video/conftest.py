"""Clips with exact ground truth (tests/video_clips.py), made once per test run."""

import pytest
from video_clips import (
    CLIP_FORMATS,
    Clip,
    Walker,
    encode_clip,
    mpii_camera_clip,
    steady_pair,
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
    return steady_pair()
