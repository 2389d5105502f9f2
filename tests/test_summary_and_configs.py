"""`hrnet-lit summary` and the shipped fit configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hrnet_lit.cli import main
from hrnet_lit.tools.fit_config import parse_fit_args

CONFIGS = sorted(Path(__file__).parents[1].glob("configs/*.yaml"))


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    main(["summary", *args, "--json=true"])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_summary_of_the_paper_w48_segmentation_network(capsys: pytest.CaptureFixture[str]) -> None:
    row = summary(capsys, "--preset=w48", "--head=v2", "--num_classes=19", "--input_size=[1024,2048]")
    assert isinstance(row["params"], int) and isinstance(row["macs"], int)
    assert row["params"] == 65_859_379 and round(row["macs"] / 2**30, 1) == 696.2


def test_summary_takes_backbone_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    cls = ("--task=classification", "--head=cls")
    base = summary(capsys, *cls, "--preset=w18", "--num_classes=1000", "--input_size=[224,224]")
    wider = summary(
        capsys, *cls, "--preset=w18", "--width=40", "--num_classes=1000", "--input_size=[224,224]"
    )
    concat = summary(
        capsys,
        "--task=classification",
        "--preset=w18",
        "--fuse_method=concat",
        "--head=cls",
        "--input_size=[224,224]",
        "--num_classes=1000",
    )
    assert wider["params"] > base["params"] and concat["params"] > base["params"]
    assert concat["macs"] > base["macs"]


def test_summary_of_a_fit_config_with_sweep_flags(capsys: pytest.CaptureFixture[str]) -> None:
    config = str(CONFIGS[0].with_name("cityscapes_w48.yaml"))
    row = summary(capsys, "--config", config)
    assert row["params"] == 65_859_379 and row["input_size"] == [512, 1024]
    narrow = summary(capsys, "--config", config, "--model.backbone.width=32", "--input_size=[64,64]")
    assert narrow["params"] < row["params"] and narrow["input_size"] == [64, 64]


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_config_parses(config: Path) -> None:
    parsed = parse_fit_args(["--config", str(config)])
    assert parsed.model.class_path == "hrnet_lit.segmentation.SegmentationTask"
    assert parsed.model.init_args.head in {"v1", "v2", "v2p"}
    assert parsed.data.class_path.startswith("hrnet_lit.segmentation.data.")


OFFICIAL_SCALE_RANGE = {"lip_w48": (0.5, 1.6)}  # LIP's official SCALE_FACTOR 11; the others 16 (about 2)


@pytest.mark.parametrize("config", [c for c in CONFIGS if c.stem != "quickstart"], ids=lambda c: c.stem)
def test_real_data_configs_keep_their_own_data_values(config: Path) -> None:
    """What the file sets, and the official rescaling, not values of the default synthetic data."""
    data = yaml.safe_load(config.read_text())["data"]["init_args"]
    parsed = parse_fit_args(["--config", str(config)]).data.init_args
    assert tuple(parsed.crop_size) == tuple(data["crop_size"])
    assert tuple(parsed.scale_range) == OFFICIAL_SCALE_RANGE.get(config.stem, (0.5, 2.0))


def test_choosing_a_data_module_by_flag_gives_its_rescaling() -> None:
    data = parse_fit_args(["--data=CityscapesDataModule", "--data.root=somewhere"]).data.init_args
    assert tuple(data.scale_range) == (0.5, 2.0)


def test_a_misspelt_flag_names_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_fit_args(["--config", str(CONFIGS[0]), "--model.backbone.widht=3"])
    assert "model.backbone.widht" in capsys.readouterr().err


def test_quickstart_stays_small() -> None:
    """`make train` must stay a few minutes on 2 CPU cores: bound its training compute, not its time.

    The config as shipped (about 4.0e12 MACs forward + backward) trained in the time noted in the
    README; a change that makes it much heavier fails here before it makes the quickstart slow.
    """
    from hrnet_lit.tools.summary import summarize_fit_config

    config = parse_fit_args(["--config", str(CONFIGS[0].with_name("quickstart.yaml"))])
    data = config.data.init_args
    cost = summarize_fit_config(["--config", str(CONFIGS[0].with_name("quickstart.yaml"))], None)
    images = config.trainer.max_epochs * (data.num_train // data.batch_size) * data.batch_size
    training_macs = 3 * cost["macs"] * images  # backward ~ 2x forward
    assert config.trainer.accelerator == "cpu" and data.num_workers == 0
    assert training_macs <= 4.5e12, f"quickstart grew to {training_macs:.2e} MACs"
