"""A fifth task in one module, to prove that a task slots in: image-level regression of the fraction
of the image that a disc covers. Its task (own network builder, own data contract) and its synthetic
data module run `fit`, `validate` and `predict` through `hrnet_lit.cli.main` by class path, and
nothing in cli/ or tools/ knows of it. A data module lacking what the contract asks is refused at
setup, naming what it lacks, before any training step."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol, TypedDict

import numpy as np
import pytest
import torch
import yaml
from helpers import logged, metric_rows
from lightning.pytorch import LightningDataModule
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchmetrics import MeanAbsoluteError

from hrnet_lit.cli import main
from hrnet_lit.cli.task_choice import import_class
from hrnet_lit.common.atomic import atomic_path
from hrnet_lit.common.checkpoint_file import read_checkpoint
from hrnet_lit.common.contracts import DataContract, TaskData
from hrnet_lit.common.datamodule import TaskDataModule
from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.common.normalize import image_tensor
from hrnet_lit.common.task import HRNetTask
from hrnet_lit.errors import InputError
from hrnet_lit.models import HRNetModel, V1Head
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.registry import TASKS

TINY = BackboneConfig(preset="w18_small_v1", width=4, num_blocks=[1, 1, 1, 1])


# ---- the task package: contract, network, task, data --------------------------------------------
class CoverageArgs(TypedDict):
    num_outputs: int
    target_names: list[str]


class CoverageData(TaskData, Protocol):
    target_range: Annotated[tuple[float, float], "the range of the targets: predictions are clipped to it"]


def build_regressor(backbone: BackboneConfig, num_outputs: int) -> HRNetModel:
    """The 1/4 branch, pooled, then a linear layer per target."""
    net = backbone.build("v1")
    rep = V1Head(net.feature_info.channels())
    return HRNetModel(
        net,
        rep,
        nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(rep.out_channels, num_outputs)),
    )


class CoverageTask(HRNetTask):
    """Regresses image-level scalars; `val/score` is 1 - MAE / the width of the targets' range."""

    architecture = ("backbone", "num_outputs")
    kind = "coverage"
    contract = DataContract(CoverageData, CoverageArgs)
    data_args = contract.task_args
    data: CoverageData
    monitor = "val/score"
    default_data = f"{__name__}.DiscDataModule"

    @classmethod
    def build_network(cls, backbone: BackboneConfig = TINY, num_outputs: int = 1) -> HRNetModel:
        return build_regressor(backbone, num_outputs)

    def __init__(
        self,
        backbone: BackboneConfig = TINY,
        num_outputs: int = 1,
        target_names: list[str] | None = None,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        **task_kwargs: Any,
    ) -> None:
        super().__init__(optimizer=optimizer, lr=lr, **task_kwargs)
        self.save_hyperparameters()
        self.net = self.build_network(backbone=backbone, num_outputs=num_outputs)
        self.target_names = target_names or [str(k) for k in range(num_outputs)]
        self.val_mae = MeanAbsoluteError()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        loss = nn.functional.mse_loss(self(batch[0]), batch[1])
        self.log("train/loss", loss, batch_size=len(batch[0]))
        return self.finite_loss(loss)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.val_mae.update(self(batch[0]), batch[1])

    def on_validation_epoch_end(self) -> None:
        low, high = self.data.target_range
        mae = self.val_mae.compute()
        self.log_dict({"val/MAE": mae, "val/score": 1 - mae / (high - low)})
        self.val_mae.reset()

    def predict_step(self, batch: tuple[torch.Tensor, list[str]], batch_idx: int) -> dict[str, Any]:
        # `normalize_inputs` (HRNetTask's) has normalised the uint8 images on the device already
        return {"values": self(batch[0]).clamp(*self.data.target_range), "paths": batch[1]}

    def on_predict_epoch_start(self) -> None:
        self._rows: list[list[Any]] = []

    def write_predictions(self, prediction: dict[str, Any], folder: Path, writer: Any) -> None:
        for path, values in zip(prediction["paths"], prediction["values"].tolist(), strict=True):
            self._rows.append([Path(path).name, *values])

    def finish_predictions(self, folder: Path) -> None:
        with atomic_path(folder / "coverage.csv") as temp, temp.open("w", newline="") as file:
            csv.writer(file).writerows([["file_name", *self.target_names], *self._rows])


def disc(size: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A random disc inside a (size, size) RGB image, and the fraction of the pixels it covers."""
    radius = rng.uniform(size / 8, size / 3)
    cy, cx = rng.uniform(radius, size - radius, 2)
    yy, xx = np.mgrid[:size, :size]
    inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    image = np.full((size, size, 3), 30, np.uint8)
    image[inside] = (230, 200, 40)
    return image, float(inside.mean())


class DiscDataModule(TaskDataModule):
    """Synthetic discs; split k ("train", "val", "test") draws from seed k."""

    kind = "coverage"
    task_args: ClassVar[CoverageArgs] = CoverageArgs(num_outputs=1, target_names=["disc_fraction"])
    target_range = (0.0, 1.0)

    def __init__(
        self, num_train: int = 8, num_val: int = 4, image_size: int = 32, predict_dir: str | None = None
    ) -> None:
        super().__init__(batch_size=4, num_workers=0, predict_dir=predict_dir)
        self.sizes = {"train": num_train, "val": num_val, "test": num_val}
        self.input_size = (image_size, image_size)

    def build_dataset(self, split: str) -> Dataset:
        rng = np.random.default_rng(("train", "val", "test").index(split))
        images, targets = zip(*(disc(self.input_size[0], rng) for _ in range(self.sizes[split])), strict=True)
        pixels = torch.stack([image_tensor(i) for i in images])  # uint8: the task normalises on the device
        return TensorDataset(pixels, torch.tensor(targets).unsqueeze(1))

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.predict_images(ImageFolderPredict), batch_size=self.batch_size)


# ---- the tests ----------------------------------------------------------------------------------
TASK, DATA = f"{__name__}.CoverageTask", f"{__name__}.DiscDataModule"


def run_args(tmp_path: Path) -> list[str]:
    return [
        f"--model={TASK}",
        f"--data={DATA}",
        "--seed_everything=0",
        "--trainer.accelerator=cpu",
        "--trainer.max_steps=2",
        "--trainer.log_every_n_steps=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={tmp_path}",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
    ]


def metrics(folder: Path) -> dict[str, list[float]]:
    rows = metric_rows(folder)
    return {key: logged(rows, key) for key in rows[0]}


@pytest.mark.slow
def test_a_fifth_task_fits_validates_and_predicts_through_the_cli(tmp_path: Path) -> None:
    main(["fit", *run_args(tmp_path), "--trainer.callbacks+=hrnet_lit.callbacks.model_cost.ModelCost"])
    cost = yaml.safe_load((tmp_path / "lightning_logs" / "version_0" / "hparams.yaml").read_text())
    assert cost["cost/input_size"] == [32, 32] and cost["cost/params"] > 0, "counted at the data's input_size"
    fitted = metrics(tmp_path / "lightning_logs" / "version_0")
    assert len(fitted["train/loss"]) == 2 and all(np.isfinite(fitted["train/loss"]))
    (score,) = fitted["val/score"]  # one validation, after the epoch of two steps
    (mae,) = fitted["val/MAE"]
    assert mae >= 0 and score == pytest.approx(1 - mae)
    checkpoints = tmp_path / "lightning_logs" / "version_0" / "checkpoints"
    best = checkpoints / "best-epoch000.ckpt"
    assert best.is_file() and (checkpoints / "last.ckpt").is_file()
    hparams = read_checkpoint(best)["hyper_parameters"]  # filled from the data's task_args, never typed
    assert hparams["num_outputs"] == 1 and hparams["target_names"] == ["disc_fraction"]

    main(["validate", *run_args(tmp_path), f"--ckpt_path={best}"])
    validated = metrics(tmp_path / "lightning_logs" / "validate" / "version_0")  # beside the fits
    assert validated["val/MAE"] == pytest.approx([mae], abs=1e-6), "the same weights score the same"

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(7)
    for name in ("a", "b", "c"):
        Image.fromarray(disc(32, rng)[0]).save(images / f"{name}.png")
    output = tmp_path / "predicted"
    predict = [f"--ckpt_path={best}", f"--data.predict_dir={images}", f"--predict_writer.output_dir={output}"]
    main(["predict", *run_args(tmp_path), *predict])
    with (output / "coverage.csv").open() as file:
        header, *rows = list(csv.reader(file))
    assert header == ["file_name", "disc_fraction"] and [r[0] for r in rows] == ["a.png", "b.png", "c.png"]
    assert all(0.0 <= float(r[1]) <= 1.0 for r in rows)


class RangelessData(LightningDataModule):
    """A researcher's data module that gives the task's arguments but not its `target_range`."""

    task_args: ClassVar[CoverageArgs] = CoverageArgs(num_outputs=1, target_names=["disc_fraction"])
    input_size = (32, 32)
    loaders: ClassVar[list[str]] = []

    def train_dataloader(self) -> DataLoader:
        self.loaders.append("train")
        return DataLoader(TensorDataset(torch.zeros(4, 3, 32, 32), torch.zeros(4, 1)), batch_size=4)


def test_data_lacking_the_contract_is_refused_at_setup_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a for a in run_args(tmp_path) if not a.startswith("--data=")]
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args, f"--data={__name__}.RangelessData"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "RangelessData lacks what CoverageTask reads from its data module" in err, err
    assert "target_range (the range of the targets: predictions are clipped to it)" in err, err
    assert RangelessData.loaders == [] and not list(tmp_path.rglob("*.ckpt")), "refused before any step"


@pytest.mark.parametrize("task", [*TASKS.values(), TASK])
def test_each_task_default_data_meets_its_contract(task: str) -> None:
    """What every task's data module gives is what its task reads: a data module of the task passes."""
    cls = import_class(task)
    assert cls.data_args == cls.contract.task_args
    assert cls.contract.missing(import_class(cls.default_data)()) == []


def test_a_task_without_a_data_module_is_refused() -> None:
    with pytest.raises(InputError, match="CoverageTask reads its data from a data module"):
        CoverageTask.contract.of(None, "CoverageTask")
