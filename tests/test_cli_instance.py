"""Instance segmentation through the real entry point: fit, validate and predict from the quickstart
config at tiny sizes (box and mask AP logged, the best checkpoint by `val/mask_mAP`, masks drawn, COCO
RLE results), and export of the same config."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import INSTANCE_FIT as TINY
from helpers import logged, metric_rows
from PIL import Image
from pycocotools import mask as coco_mask

from hrnet_lit.cli import main
from hrnet_lit.detection.detector import DensePart

QUICKSTART = "configs/instance/quickstart.yaml"
LOSSES = ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg", "loss_mask")
MAPS = ("mAP", "mAP50", "mask_mAP", "mask_mAP50", "mask_mAP75", "mask_mAR100")


@pytest.mark.slow
def test_fit_validate_predict_from_the_quickstart_config(tmp_path: Path) -> None:
    run = [f"--config={QUICKSTART}", *TINY, f"--trainer.logger.init_args.save_dir={tmp_path}"]
    main(["fit", *run])
    (folder,) = tmp_path.glob("instance_quickstart/version_*")
    table = metric_rows(folder)
    for name in LOSSES:
        values = logged(table, f"train/{name}")
        assert len(values) == 2 and all(math.isfinite(v) for v in values), name
    for r in (r for r in table if r.get("train/loss")):  # the logged total is the sum of the losses
        assert float(r["train/loss"]) == pytest.approx(sum(float(r[f"train/{n}"]) for n in LOSSES), rel=1e-5)
    for name in MAPS:
        (value,) = logged(table, f"val/{name}")
        assert value == -1.0 or 0.0 <= value <= 1.0, name
    assert {f"val/mask_AP/{c}" for c in ("disc", "rectangle", "triangle")} & set(table[0])
    (best,) = folder.glob("checkpoints/best-*.ckpt")
    (last,) = folder.glob("checkpoints/last.ckpt")
    callbacks = torch.load(best, weights_only=True)["callbacks"]
    assert any("'monitor': 'val/mask_mAP'" in k for k in callbacks), "the best checkpoint follows mask AP"

    main(["validate", *run, f"--ckpt_path={last}"])
    (validated,) = logged(metric_rows(tmp_path / "instance_quickstart/validate/version_0"), "val/mask_mAP50")
    assert validated == pytest.approx(logged(table, "val/mask_mAP50")[0], abs=1e-6), "same weights, same AP"

    images = tmp_path / "to_predict"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name, size in (("000000000139.png", (64, 80)), ("b.jpg", (48, 64))):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(images / name)
    out = tmp_path / "predictions"
    predict = [f"--ckpt_path={last}", f"--data.predict_dir={images}", f"--predict_writer.output_dir={out}"]
    main(["predict", *run, *predict, "--model.draw_score_thresh=0.0"])
    with Image.open(out / "000000000139.png") as drawn:
        assert drawn.size == (80, 64), "masks are drawn on the image at its own size"
    with Image.open(out / "b.png") as drawn:
        assert drawn.size == (64, 48)
    results = json.loads((out / "segmentations.json").read_text())
    assert results, "an untrained detector's class scores (about 1 / 4) pass the 0.05 threshold"
    ids = {r["file_name"]: r["image_id"] for r in results}
    assert ids.get("000000000139.png", 139) == 139, "a COCO file name keeps COCO's image id"
    for r in results:
        assert set(r) == {"image_id", "file_name", "category_id", "bbox", "score", "segmentation"}
        height, width = (64, 80) if r["file_name"].endswith(".png") else (48, 64)
        assert r["segmentation"]["size"] == [height, width] and r["category_id"] in (1, 2, 3)
        assert coco_mask.decode(r["segmentation"]).shape == (height, width)


@pytest.mark.slow
def test_export_of_an_instance_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    exported: list[torch.nn.Module] = []

    def export_onnx(model: torch.nn.Module, output: str, input_size: tuple[int, int], opset: object) -> str:
        exported.append(model)
        return output

    monkeypatch.setattr("hrnet_lit.tools.export.export_onnx", export_onnx)
    main(
        ["export", f"--config={QUICKSTART}", *TINY, f"--output={tmp_path / 'm.onnx'}", "--network_only=true"]
    )
    assert "ONNX export of a Mask R-CNN covers its dense part" in capsys.readouterr().err
    (part,) = exported
    assert isinstance(part, DensePart)
