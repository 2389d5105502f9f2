"""The landmark task: the official network's size and function, the official file formats (each written
tiny by the test), the NME metrics, the codec round trip and the flip's landmark swap, and a tiny fit,
test and predict through the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from helpers import LANDMARKS_FIT, TINY_LANDMARKS, last_logged, logged, metric_rows
from PIL import Image

from hrnet_lit.cli import main
from hrnet_lit.errors import InputError
from hrnet_lit.landmarks.baseline import data_mean_shape_nme
from hrnet_lit.landmarks.data import (
    COCOFaceDataModule,
    COFWDataModule,
    LandmarkCSVDataModule,
    SyntheticFaceDataModule,
)
from hrnet_lit.landmarks.data.specs import AFLW, WFLW, WFLW_ATTRIBUTES
from hrnet_lit.landmarks.data.transforms import FaceAugmentation, FaceTransform
from hrnet_lit.landmarks.metrics import NME
from hrnet_lit.landmarks.network import build_network
from hrnet_lit.landmarks.task import LandmarkTask
from hrnet_lit.models import count_params
from hrnet_lit.pose.codec import HeatmapCodec, to_image
from hrnet_lit.tools.fit_config import parse_fit_args

RNG = np.random.default_rng(0)


def face_points(k: int, center: tuple[float, float] = (32.0, 32.0), spread: float = 12.0) -> np.ndarray:
    return np.asarray(center) + RNG.uniform(-spread, spread, size=(k, 2))


def write_image(path: Path, size: int = 64) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)


def test_the_official_network_w18_wflw() -> None:
    """HRNetV2-W18 with the official head, 98 heatmaps at 1/4: 9,662,528 parameters, what the official
    code's `HighResolutionNet` builds (the README rounds it to 9.3M); the V1 ablation reads the 1/4
    branch alone."""
    with torch.device("meta"):
        assert count_params(build_network()) == 9_662_528
    net = build_network(TINY_LANDMARKS, "v1", 5)
    assert net(torch.zeros(1, 3, 40, 48)).shape == (1, 5, 10, 12)
    with pytest.raises(InputError, match="model.head='v2p'"):
        build_network(TINY_LANDMARKS, "v2p")  # type: ignore[arg-type]


def test_wflw_csv_with_attribute_columns(tmp_path: Path) -> None:
    """The official CSV (header, name, scale, centre, 98 x, y) read with WFLW's attribute columns."""
    write_image(tmp_path / "images" / "a" / "face.jpg")
    header = ["image_name", "scale", "center_w", "center_h"]
    header += [f"original_{k}_{c}" for k in range(98) for c in "xy"] + list(WFLW_ATTRIBUTES)
    rows = []
    for flags in ([1, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0]):
        points = face_points(98)
        rows.append(["a/face.jpg", 0.12, 32, 32, *points.reshape(-1).round(3), *flags])
    for split in ("train", "test"):
        with open(tmp_path / f"face_landmarks_wflw_{split}.csv", "w", newline="") as file:
            csv.writer(file).writerows([header, *rows])
    data = LandmarkCSVDataModule(str(tmp_path), "wflw", input_size=(32, 32), num_workers=0)
    faces, load = data.faces("val")
    assert data.attribute_names == WFLW_ATTRIBUTES
    assert faces[0].attributes.tolist() == [1, 0, 0, 0, 0, 1]
    a, b = WFLW.norm_landmarks
    assert faces[0].norm == pytest.approx(np.linalg.norm(faces[0].landmarks[a] - faces[0].landmarks[b]))
    sample = data.dataset("val")[0]
    assert sample["image"].shape == (3, 32, 32) and sample["target"].shape == (98, 8, 8)
    assert load(0).size == (64, 64)


def test_aflw_csv_box_size_and_300w_default_names(tmp_path: Path) -> None:
    """AFLW's CSV carries `box_size` after `scale`, its NME normaliser; a wrong column count is named."""
    points = face_points(19)
    with open(tmp_path / "face_landmarks_aflw_test.csv", "w", newline="") as file:
        header = ["image_name", "scale", "box_size", "center_w", "center_h"]
        rows = [header + [f"c{k}" for k in range(38)], ["x.jpg", 0.1, 17.5, 30, 31, *points.reshape(-1)]]
        csv.writer(file).writerows(rows)
    data = LandmarkCSVDataModule(str(tmp_path), "aflw", num_workers=0)
    (face,), _ = data.faces("val")
    assert face.norm == 17.5 and face.center.tolist() == [30, 31] and data.spec is AFLW
    assert data.files["val"] == "face_landmarks_aflw_test.csv"
    assert LandmarkCSVDataModule(str(tmp_path), "300w").files["val"] == "face_landmarks_300w_valid.csv"
    with pytest.raises(InputError, match="39 landmark columns, 300w needs 136"):
        LandmarkCSVDataModule(str(tmp_path), "300w", val_csv="face_landmarks_aflw_test.csv").faces("val")


def test_cofw_mat(tmp_path: Path) -> None:
    """COFW's `.mat`: images in a cell array (grey and colour), 29 x, 29 y, 29 occlusion flags per
    face; centred and scaled on the landmarks' box, inter-pupil normaliser (landmarks 8 and 9)."""
    points = [face_points(29) for _ in range(2)]
    images = np.empty((2, 1), dtype=object)
    images[0, 0] = RNG.integers(0, 256, (64, 64), dtype=np.uint8)
    images[1, 0] = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    phis = np.stack([np.concatenate([p[:, 0], p[:, 1], np.zeros(29)]) for p in points])
    scipy.io.savemat(tmp_path / "COFW_test_color.mat", {"IsT": images, "phisT": phis})
    data = COFWDataModule(str(tmp_path), input_size=(32, 32), num_workers=0)
    faces, load = data.faces("val")
    np.testing.assert_allclose(faces[1].landmarks, points[1])
    assert faces[0].norm == pytest.approx(np.linalg.norm(points[0][8] - points[0][9]))
    assert load(0).mode == "RGB" and load(0).size == (64, 64)
    assert data.dataset("val")[1]["target"].shape == (29, 8, 8)
    with pytest.raises(InputError, match="lacks 'IsTr'"):
        COFWDataModule(str(tmp_path), train_mat="COFW_test_color.mat").faces("train")
    with pytest.raises(InputError, match="not found"):
        COFWDataModule(str(tmp_path / "nowhere")).faces("val")


def test_coco_face_keypoints(tmp_path: Path) -> None:
    """A COCO-format face set: landmarks from the category, flip pairs from left / right names,
    unlabelled landmarks weighted 0, box-size NME normaliser."""
    names = ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"]
    points = face_points(5)
    keypoints = np.concatenate([points, np.array([[2], [2], [0], [2], [2]])], axis=1).reshape(-1).tolist()
    coco = {
        "images": [{"id": 7, "file_name": "f.png", "width": 64, "height": 64}],
        "annotations": [{"id": 1, "image_id": 7, "keypoints": keypoints, "bbox": [10, 12, 40, 30]}],
        "categories": [{"id": 1, "name": "face", "keypoints": names}],
    }
    (tmp_path / "annotations").mkdir()
    for split in ("train", "val"):
        (tmp_path / "annotations" / f"face_landmarks_{split}.json").write_text(json.dumps(coco))
        write_image(tmp_path / "images" / split / "f.png")
    data = COCOFaceDataModule(str(tmp_path), input_size=(32, 32), num_workers=0)
    assert data.task_args == {"num_landmarks": 5, "flip_pairs": [[0, 1], [3, 4]]}
    (face,), _ = data.faces("test")
    assert face.weight.tolist() == [1, 1, 0, 1, 1] and face.norm == pytest.approx(np.sqrt(40 * 30))
    assert face.center.tolist() == [30, 27] and face.scale == pytest.approx(40 / 200)
    assert data.dataset("train")[0]["target_weight"][2] == 0


def test_nme_perfect_is_zero_and_shifted_is_worse() -> None:
    truth = torch.as_tensor(np.stack([face_points(98) for _ in range(4)]), dtype=torch.float32)
    norm = torch.tensor([10.0, 20.0, 10.0, 40.0])
    weight = torch.ones(4, 98)
    flags = torch.tensor([[1, 0], [0, 0], [1, 0], [0, 0]])
    metric = NME(0.10, ("pose", "blur"))
    metric.update(truth, truth, norm, weight, flags)
    perfect = metric.compute()
    assert (
        perfect["NME"] == 0
        and perfect["FR@0.10"] == 0
        and perfect["AUC@0.10"] == pytest.approx(1.0, abs=1e-3)
    )
    metric.reset()
    metric.update(truth + torch.tensor([1.2, 1.6]), truth, norm, weight, flags)  # 2 pixels away
    shifted = metric.compute()
    assert shifted["NME"] == pytest.approx((0.2 + 0.1 + 0.2 + 0.05) / 4)
    assert shifted["FR@0.10"] == pytest.approx(0.5)  # the faces at 0.2; 0.1 itself is no failure
    assert 0 < shifted["AUC@0.10"] < 1
    assert shifted["NME_pose"] == pytest.approx(0.2) and "NME_blur" not in shifted


def test_codec_round_trip_and_flip_swaps_landmarks() -> None:
    """The targets of a face, decoded as the task decodes heatmaps and mapped back to the image, land
    on its landmarks; a flipped crop's targets are the mirrored ones with the pairs swapped."""
    data = SyntheticFaceDataModule(
        num_train=4, num_val=4, image_size=(96, 96), input_size=(64, 64), num_workers=0
    )
    faces, load = data.faces("val")
    codec = HeatmapCodec(sigma=1.5)
    cell = float(faces[0].scale) * 200 * 1.25 / 16  # image pixels per heatmap pixel
    # Official: the centre rounded to the grid, so within half a cell; DARK's sub-pixel centres are found
    # again (except within two cells of the border, where DARK keeps the peak).
    for dark, summary, bound in ((False, torch.max, 0.5 * 2**0.5 * cell), (True, torch.median, 0.05 * cell)):
        exact = HeatmapCodec(sigma=1.5, dark=dark)
        sample = FaceTransform((64, 64), data.spec.flip_pairs, exact)(load(0), faces[0])
        found, _ = exact.decode(sample["target"][None])
        back = to_image(found, sample["center"][None], sample["scale"][None], (16, 16))[0]
        assert summary((back - sample["landmarks"]).norm(dim=-1)) <= bound
    coords, _ = codec.decode(
        FaceTransform((64, 64), data.spec.flip_pairs, codec)(load(0), faces[0])["target"][None]
    )
    mirrored = FaceTransform((64, 64), data.spec.flip_pairs, codec, FaceAugmentation(0.0, 0.0, 0.0, 1.0))
    flipped, _ = codec.decode(mirrored(load(0), faces[0])["target"][None])
    a, b = data.spec.flip_pairs[0]  # the jaw's two ends
    np.testing.assert_allclose(flipped[0, a, 0], 15 - coords[0, b, 0], atol=1.01)
    np.testing.assert_allclose(flipped[0, a, 1], coords[0, b, 1], atol=0.01)


def test_mean_shape_baseline_of_the_synthetic_faces() -> None:
    data = SyntheticFaceDataModule(num_train=64, num_val=32, num_workers=0)
    assert 0.08 < data_mean_shape_nme(data) < 0.3


def test_a_data_module_codec_other_than_the_tasks_is_refused() -> None:
    task = LandmarkTask(TINY_LANDMARKS, num_landmarks=22)
    assert task.codec == HeatmapCodec(sigma=1.5) and task.monitor_mode == "min"
    data = SyntheticFaceDataModule(num_workers=0, codec=HeatmapCodec(sigma=2.0))
    task.trainer = type("T", (), {"datamodule": data, "ckpt_path": None})()  # type: ignore[assignment]
    with pytest.raises(InputError, match="not the task's model.codec"):
        task.setup("fit")


@pytest.mark.slow
def test_fit_test_predict_through_the_cli(tmp_path: Path) -> None:
    """Two steps of the quickstart, then test and predict from its best checkpoint (lowest val/NME)."""
    config = ["--config", "configs/landmarks/quickstart.yaml", *LANDMARKS_FIT]
    logs = [f"--trainer.logger.init_args.save_dir={tmp_path}", f"--trainer.default_root_dir={tmp_path}"]
    main(["fit", *config, *logs])
    assert 0 < last_logged(tmp_path, "val/NME") < float("inf")
    (best,) = tmp_path.rglob("best-*.ckpt")
    main(["test", *config, f"--ckpt_path={best}", *logs])
    assert logged(metric_rows(tmp_path / "landmarks_quickstart" / "test" / "version_0"), "test/NME")[0] > 0
    write_image(tmp_path / "faces" / "a.png", 48)
    boxes = tmp_path / "boxes.json"
    boxes.write_text(
        json.dumps(
            [{"file_name": "a.png", "bbox": [4, 4, 30, 30]}, {"file_name": "a.png", "bbox": [0, 0, 48, 48]}]
        )
    )
    out = tmp_path / "drawn"
    main(
        ["predict", *config, *logs, f"--ckpt_path={best}", f"--data.predict_dir={tmp_path / 'faces'}",
         f"--data.face_boxes={boxes}", f"--predict_writer.output_dir={out}"]
    )  # fmt: skip
    results = json.loads((out / "landmarks.json").read_text())
    assert [r["file_name"] for r in results] == ["a.png", "a.png"] and len(results[0]["landmarks"]) == 22
    assert (out / "a.png").is_file()


def test_best_checkpoint_is_the_lowest_nme_and_panels_draw() -> None:
    config = parse_fit_args(["--config", "configs/landmarks/quickstart.yaml"])
    assert config.checkpoint.monitor == "val/NME" and config.checkpoint.mode == "min"
    data = SyntheticFaceDataModule(
        num_train=2, num_val=2, image_size=(48, 48), input_size=(32, 32), num_workers=0
    )
    task = LandmarkTask(
        TINY_LANDMARKS, num_landmarks=22, flip_pairs=data.task_args["flip_pairs"], flip_test=True
    )
    batch = torch.utils.data.default_collate([data.dataset("val")[k] for k in range(2)])
    with torch.no_grad():
        panels = task.eval().validation_panels(task.on_after_batch_transfer(batch, 0), 2)
    assert len(panels) == 2 and panels[0].shape == (32, 96, 3)


def test_a_missing_dataset_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="data.root: dataset folder .*nowhere not found"):
        LandmarkCSVDataModule(str(tmp_path / "nowhere")).dataset("train")
