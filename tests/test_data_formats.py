"""The real on-disk formats, written as tiny trees in tmp_path."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hrnet_lit.common.images import ImageFolderPredict
from hrnet_lit.segmentation.data import (
    ADE20KDataModule,
    ADE20KSegmentation,
    CityscapesDataModule,
    CityscapesSegmentation,
    FolderDataModule,
    FolderSegmentation,
)


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _image(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(height * width).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _cityscapes(root: Path, split: str, city: str, name: str, label_ids: np.ndarray) -> None:
    _save(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png", _image(*label_ids.shape))
    _save(root / "gtFine" / split / city / f"{name}_gtFine_labelIds.png", label_ids.astype(np.uint8))


def _ade20k(root: Path, folder: str, name: str, labels: np.ndarray) -> None:
    base = root / "ADEChallengeData2016"
    _save(base / "images" / folder / f"{name}.jpg", _image(*labels.shape))
    _save(base / "annotations" / folder / f"{name}.png", labels.astype(np.uint8))


def _folder(root: Path, split: str, name: str, labels: np.ndarray, suffix: str = ".png") -> None:
    _save(root / "images" / split / f"{name}{suffix}", _image(*labels.shape))
    _save(root / "masks" / split / f"{name}.png", labels.astype(np.uint8))


# -- Cityscapes ---------------------------------------------------------------------------------------


def test_cityscapes_maps_label_ids_to_train_ids(tmp_path: Path) -> None:
    label_ids = np.array([[7, 26, 0, 33], [255, 8, 31, 6], [24, 25, 11, 23]])  # 255 is -1 as uint8
    train_ids = np.array([[0, 13, 255, 18], [255, 1, 16, 255], [11, 12, 2, 10]])
    _cityscapes(tmp_path, "val", "aachen", "aachen_000000_000019", label_ids)
    _cityscapes(tmp_path, "val", "bonn", "bonn_000001_000019", np.full((5, 6), 21))
    dataset = CityscapesSegmentation(tmp_path, "val")
    assert len(dataset) == 2 and dataset.num_classes == 19 and dataset.palette.shape == (19, 3)
    image, mask = dataset[0]
    assert image.shape == (3, 3, 4) and mask.dtype == torch.uint8
    assert np.array_equal(mask.numpy(), train_ids)
    assert (dataset[1][1] == 8).all()


def test_cityscapes_missing_root_split_or_annotation(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="leftImg8bit"):
        CityscapesSegmentation(tmp_path / "nowhere", "train")
    _cityscapes(tmp_path, "train", "ulm", "ulm_000000_000019", np.zeros((4, 4)))
    with pytest.raises(FileNotFoundError, match=r"leftImg8bit/val"):
        CityscapesSegmentation(tmp_path, "val")
    _save(tmp_path / "leftImg8bit" / "train" / "ulm" / "ulm_000001_000019_leftImg8bit.png", _image(4, 4))
    with pytest.raises(FileNotFoundError, match="ulm_000001_000019_gtFine_labelIds.png"):
        CityscapesSegmentation(tmp_path, "train")


# -- ADE20K -------------------------------------------------------------------------------------------


def test_ade20k_shifts_labels_and_accepts_either_root(tmp_path: Path) -> None:
    labels = np.array([[0, 1, 150], [13, 2, 0]])
    _ade20k(tmp_path, "validation", "ADE_val_00000001", labels)
    for root in (tmp_path, tmp_path / "ADEChallengeData2016"):
        dataset = ADE20KSegmentation(root, "val")
        assert len(dataset) == 1 and dataset.num_classes == 150
        assert np.array_equal(dataset[0][1].numpy(), [[255, 0, 149], [12, 1, 255]])
    assert dataset.classes[:3] == ("wall", "building", "sky")


def test_ade20k_label_beyond_150_names_the_mask(tmp_path: Path) -> None:
    _ade20k(tmp_path, "training", "ADE_train_00000001", np.array([[1, 151], [152, 0]]))
    with pytest.raises(ValueError, match=r"ADE_train_00000001\.png.*\[150, 151\]"):
        ADE20KSegmentation(tmp_path, "train")[0]
    with pytest.raises(ValueError, match="split"):
        ADE20KSegmentation(tmp_path, "test")


# -- Folder -------------------------------------------------------------------------------------------


def _folder_root(root: Path) -> Path:
    (root).mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("soil\nroot\nstem\n")
    _folder(root, "train", "a", np.array([[0, 1, 2, 255]] * 3))
    _folder(root, "train", "b", np.ones((6, 5)), suffix=".JPG")
    _folder(root, "val", "c", np.full((7, 9), 2), suffix=".jpeg")
    return root


def test_folder_reads_classes_and_raw_labels(tmp_path: Path) -> None:
    root = _folder_root(tmp_path)
    dataset = FolderSegmentation(root, "train")
    assert dataset.classes == ("soil", "root", "stem") and dataset.num_classes == 3
    assert [image.name for image, _ in dataset.samples] == ["a.png", "b.JPG"]
    assert np.array_equal(dataset[0][1].numpy(), [[0, 1, 2, 255]] * 3)
    assert dataset[1][0].shape == (3, 6, 5)


def test_folder_label_out_of_range_names_the_mask(tmp_path: Path) -> None:
    root = _folder_root(tmp_path)
    _folder(root, "val", "bad", np.array([[0, 3], [7, 255]]))
    dataset = FolderSegmentation(root, "val")
    with pytest.raises(ValueError, match=r"bad\.png contains labels \[3, 7\]"):
        dataset[0]


def test_mask_size_mismatch_names_both_files(tmp_path: Path) -> None:
    root = _folder_root(tmp_path)
    _save(root / "images" / "val" / "odd.png", _image(8, 8))
    _save(root / "masks" / "val" / "odd.png", np.zeros((8, 6), dtype=np.uint8))
    dataset = FolderSegmentation(root, "val")
    with pytest.raises(ValueError, match=r"masks/val/odd\.png is 6x8 .*images/val/odd\.png is 8x8"):
        dataset.load(1)


def test_colour_mask_is_rejected(tmp_path: Path) -> None:
    root = _folder_root(tmp_path)
    _save(root / "images" / "val" / "rgb.png", _image(4, 4))
    _save(root / "masks" / "val" / "rgb.png", _image(4, 4))
    with pytest.raises(ValueError, match=r"rgb\.png has mode RGB"):
        FolderSegmentation(root, "val").load(1)


def test_folder_missing_pieces(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        FolderSegmentation(tmp_path / "nowhere", "train")
    root = _folder_root(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"images/test"):
        FolderSegmentation(root, "test")
    _save(root / "images" / "train" / "lonely.png", _image(4, 4))
    with pytest.raises(FileNotFoundError, match=r"lonely\.png"):
        FolderSegmentation(root, "train")
    (root / "classes.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"classes\.txt"):
        FolderDataModule(str(root))


def test_image_folder_predict_lists_sorted_images(tmp_path: Path) -> None:
    _save(tmp_path / "b.jpg", _image(5, 7))
    _save(tmp_path / "a.png", _image(4, 6))
    (tmp_path / "notes.txt").write_text("not an image")
    dataset = ImageFolderPredict(tmp_path)
    assert len(dataset) == 2
    image, path = dataset[0]
    assert image.shape == (3, 4, 6) and path == str(tmp_path / "a.png")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ImageFolderPredict(tmp_path / "nowhere")


# -- Their datamodules --------------------------------------------------------------------------------


def test_class_metadata_is_known_before_setup(tmp_path: Path) -> None:
    cityscapes = CityscapesDataModule(root=str(tmp_path / "nowhere"))
    ade20k = ADE20KDataModule(root=str(tmp_path / "nowhere"))
    assert (cityscapes.num_classes, ade20k.num_classes) == (19, 150)
    assert cityscapes.class_names[0] == "road" and ade20k.palette.shape == (150, 3)
    assert cityscapes.ignore_index == ade20k.ignore_index == 255
    with pytest.raises(FileNotFoundError, match="nowhere"):
        cityscapes.setup("fit")


def test_folder_datamodule_batches(tmp_path: Path) -> None:
    root = _folder_root(tmp_path / "data")
    _save(tmp_path / "predict" / "x.png", _image(5, 8))
    data = FolderDataModule(
        str(root), crop_size=(8, 8), batch_size=2, num_workers=0, predict_dir=str(tmp_path / "predict")
    )
    assert data.num_classes == 3 and data.class_names == ("soil", "root", "stem") and data.test_split == "val"
    data.setup("fit")
    images, masks = next(iter(data.train_dataloader()))
    assert images.shape == (2, 3, 8, 8) and images.dtype == torch.uint8
    assert masks.shape == (2, 8, 8) and masks.dtype == torch.uint8
    images, masks = next(iter(data.val_dataloader()))
    assert images.shape == (1, 3, 7, 9) and masks.shape == (1, 7, 9)
    images, paths = next(iter(data.predict_dataloader()))
    assert images.shape == (1, 3, 5, 8) and list(paths) == [str(tmp_path / "predict" / "x.png")]
    _folder(root, "test", "t", np.zeros((3, 3)))
    assert data.test_split == "test"
