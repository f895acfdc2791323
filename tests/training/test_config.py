"""Training options: seed defaults, a YAML file, flags that win over it, and refusal of bad values."""

from pathlib import Path

import pytest

from training.config import TrainConfig, parse_config


def test_config_file_is_overridden_by_flags(tmp_path: Path) -> None:
    config_file = tmp_path / "train.yaml"
    config_file.write_text("data: /data/mpii\nbatch-size: 16\ninput_size: 128\n")
    config = parse_config(["--config", str(config_file), "--batch-size", "8"])
    assert (config.batch_size, config.input_size, config.epochs, config.lr) == (8, 128, 100, 1e-3)
    assert config.train_annotation_file == Path("/data/mpii/annot/train.h5")
    config_file.write_text("data: /data\nbatch_sise: 16\n")
    with pytest.raises(ValueError, match="batch_sise"):
        parse_config(["--config", str(config_file)])


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="multiple of 64"):
        TrainConfig(data=Path("x"), input_size=100)
    with pytest.raises(ValueError, match="device_target"):
        TrainConfig(data=Path("x"), device_target="TPU")
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(data=Path("x"), resume=Path("a.ckpt"), init_from=Path("b.ckpt"))
