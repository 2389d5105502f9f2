"""PASCAL-Context and LIP in the segmentation task: their official list layouts read from tiny trees the
test writes, the 59-class label reduction, mIoU 1 for perfect predictions and less for shifted ones,
LIP's left / right label swap in training and in the flip test, and a tiny fit of each official recipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TINY_SEGMENTATION, logged, metric_rows
from PIL import Image

from hrnet_lit.cli import main
from hrnet_lit.errors import InputError
from hrnet_lit.segmentation import SegmentationTask
from hrnet_lit.segmentation.data import LIPDataModule, PascalContextDataModule
from hrnet_lit.segmentation.data.lip import LIP_FLIP_PAIRS, LIPTrainTransform, swap_labels
from hrnet_lit.segmentation.inference import predict_probs

RNG = np.random.default_rng(0)


def stripes(num: int, offset: int, size: tuple[int, int] = (40, 60)) -> np.ndarray:
    """A label map whose columns cycle through `offset`, ..., `offset + num - 1`: every label present."""
    return ((np.arange(size[1]) % num + offset)[None, :] * np.ones((size[0], 1))).astype(np.uint8)


def write_pair(root: Path, image: str, label: str, mask: np.ndarray) -> str:
    for path in (root / image, root / label):
        path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (*mask.shape, 3), dtype=np.uint8)).save(root / image)
    Image.fromarray(mask).save(root / label)
    return f"{image} {label}"


def write_pascal_context(root: Path) -> None:
    """60-class labels (0 background): train and val lists of one image each."""
    for split in ("train", "val"):
        line = write_pair(root, f"JPEGImages/{split}.jpg", f"labels/{split}.png", stripes(60, 0))
        (root / f"{split}.lst").write_text(line + "\n")


def write_lip(root: Path) -> None:
    """The official LIP tree and lists (the train list's third column, the reversed label, unused)."""
    for split in ("train", "val"):
        line = write_pair(
            root,
            f"lip/TrainVal_images/{split}_images/1_{split}.jpg",
            f"lip/TrainVal_parsing_annotations/{split}_segmentations/1_{split}.png",
            stripes(20, 0),
        )
        extra = f" lip/TrainVal_parsing_annotations/{split}_segmentations_reversed/1_{split}.png"
        name = "trainList.txt" if split == "train" else "valList.txt"
        (root / "list" / "lip").mkdir(parents=True, exist_ok=True)
        (root / "list" / "lip" / name).write_text(line + (extra if split == "train" else "") + "\n")


def miou(task: SegmentationTask, pred: torch.Tensor, target: torch.Tensor) -> float:
    task.val_metrics.reset()
    task.val_metrics.update(pred, target)
    return float(task.val_metrics.compute()["val/IoU"].mean())


def test_pascal_context_reads_59_classes_and_scores_perfect_as_one(tmp_path: Path) -> None:
    write_pascal_context(tmp_path)
    data = PascalContextDataModule(str(tmp_path), crop_size=(32, 32), base_size=30, num_workers=0)
    assert data.num_classes == 59 and data.task_args["ignore_index"] == 255
    image, target = data.dataset("val")[0]
    assert image.shape == (3, 30, 45) and target.shape == (40, 60)  # short side 30; the label as stored
    stored = stripes(60, 0)
    assert (target[stored == 0] == 255).all() and (target[stored == 7] == 6).all()  # background ignored
    task = SegmentationTask(backbone=TINY_SEGMENTATION, num_classes=59)
    assert miou(task, target.clamp(max=58)[None], target[None]) == 1.0
    assert miou(task, target.roll(1, dims=-1).clamp(max=58)[None], target[None]) < 0.1
    image, target = data.dataset("train")[0]
    assert image.shape == (3, 32, 32) and target.shape == (32, 32)
    with pytest.raises(InputError, match=r"data.val_list: .*missing.lst not found"):
        PascalContextDataModule(str(tmp_path), val_list="missing.lst").dataset("val")


def test_lip_layout_eval_input_and_perfect_miou(tmp_path: Path) -> None:
    write_lip(tmp_path)
    data = LIPDataModule(str(tmp_path), crop_size=(24, 24), num_workers=0)
    assert data.num_classes == 20 and data.flip_pairs == [[14, 15], [16, 17], [18, 19]]
    image, target = data.dataset("test")[0]
    assert image.shape == (3, 24, 24) and target.shape == (40, 60)  # resized input, label as stored
    task = SegmentationTask(backbone=TINY_SEGMENTATION, num_classes=20)
    assert miou(task, target[None], target[None]) == 1.0
    assert miou(task, torch.from_numpy(swap_labels(target.numpy(), LIP_FLIP_PAIRS))[None], target[None]) < 1.0


def test_lip_training_flip_swaps_left_and_right() -> None:
    """Left parts on the image's left (red), right parts on its right (blue): a mirrored sample shows the
    red half on the right, and its labels still put the left parts on the left, as on a mirrored person."""
    mask = np.full((16, 32), 14, np.uint8)
    mask[:, 16:] = 15
    image = np.zeros((16, 32, 3), np.uint8)
    image[:, :16, 0] = 255
    image[:, 16:, 2] = 255
    transform = LIPTrainTransform((16, 32), (1.0, 1.0), 255)
    flipped = 0
    for seed in range(8):
        torch.manual_seed(seed)
        pixels, target = transform(image, mask)
        red = pixels[0].float()
        flipped += bool(red[:, 0].mean() < red[:, -1].mean())  # red moved to the right
        assert (target[:, :16] == 14).all() and (target[:, 16:] == 15).all()
    assert 0 < flipped < 8
    assert (
        swap_labels(np.array([13, 14, 15, 16, 19, 255], np.uint8), LIP_FLIP_PAIRS)
        == [13, 15, 14, 17, 18, 255]
    ).all()


def test_flip_test_swaps_the_left_and_right_channels_back() -> None:
    """A network that calls the image's left half `left_arm` (14) and its right half `right_arm` (15)
    is right on a mirrored image only with the channels swapped back: then the flip test agrees with
    the plain prediction; without the swap the two halves average to a tie."""

    def net(image: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(image.shape[0], 20, *image.shape[-2:])
        half = image.shape[-1] // 2
        logits[:, 14, :, :half] = 5.0
        logits[:, 15, :, half:] = 5.0
        return logits

    image = torch.zeros(1, 3, 8, 12)
    plain = predict_probs(net, image)
    swapped = predict_probs(net, image, flip=True, flip_pairs=[list(p) for p in LIP_FLIP_PAIRS])
    torch.testing.assert_close(swapped, plain)
    unswapped = predict_probs(net, image, flip=True)
    assert torch.allclose(unswapped[:, 14], unswapped[:, 15])


@pytest.mark.slow
@pytest.mark.parametrize("config", ["lip_w48", "pascal_context_w48"])
def test_official_recipes_fit_tiny(config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    (write_lip if config == "lip_w48" else write_pascal_context)(root)
    tiny = [
        f"--data.init_args.root={root}", "--trainer.accelerator=cpu", "--trainer.devices=1",
        "--trainer.strategy=auto", "--trainer.max_steps=1", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", "--model.backbone.preset=w18_small_v1",
        "--model.backbone.width=8", "--model.backbone.norm=batch", "--data.crop_size=[64,64]",
        "--data.batch_size=1", "--data.num_workers=0", f"--trainer.logger.init_args.save_dir={tmp_path}",
        f"--trainer.default_root_dir={tmp_path}",
    ]  # fmt: skip
    if config == "pascal_context_w48":
        tiny.append("--data.base_size=64")
    main(["fit", "--config", f"configs/{config}.yaml", *tiny])
    assert 0 <= logged(metric_rows(tmp_path), "val/mIoU")[-1] <= 1
    if config == "lip_w48":
        with pytest.raises(SystemExit):
            main(["fit", "--config", f"configs/{config}.yaml", *tiny, "--model.flip_pairs=null"])
        assert "model.flip_pairs=[] but the data's classes swap as" in capsys.readouterr().err
