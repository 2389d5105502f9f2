"""The loaders hand uint8 images (and uint8 masks) to the device and the task normalises there: the
network sees what the float loaders gave it before (segmentation: within float rounding;
classification: the same crops, resampled by torch instead of PIL, within one grey level), train and
val; the one decoder gives PIL's pixels."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from timm.data import create_transform
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from hrnet_lit.classification import ClassificationTask
from hrnet_lit.classification.data import SyntheticClassesDataModule
from hrnet_lit.classification.data.synthetic import SyntheticClasses
from hrnet_lit.common.files import read_labels, read_rgb, read_rgb_array
from hrnet_lit.common.normalize import IMAGENET_MEAN, IMAGENET_STD, normalize
from hrnet_lit.common.resumable import KeyedSamples, stream_seed
from hrnet_lit.errors import InputError
from hrnet_lit.segmentation import SegmentationTask
from hrnet_lit.segmentation.data import SyntheticShapes
from hrnet_lit.segmentation.data.datamodules import collate_whole_images
from hrnet_lit.segmentation.data.transforms import SegEvalTransform, SegTrainTransform
from tests.helpers import TINY_CLASSIFICATION, TINY_SEGMENTATION

ROUNDING = 1e-5  # float32 rounding of the two orders of the same affine map, far below one grey level
ONE_GREY_LEVEL = 1 / (255 * min(IMAGENET_STD)) + ROUNDING
PADDING = 0.0083  # the padding's mean colour rounded to 8 bits: under half a grey level / std


def _old_seg_train(image: np.ndarray, mask: np.ndarray, crop: tuple[int, int], scales: tuple[float, float]):
    """The float transform the loaders ran before (jitter off), drawing in the same order."""
    rgb = torch.from_numpy(image).permute(2, 0, 1)
    scale = scales[0] + (scales[1] - scales[0]) * torch.rand(()).item()
    height, width = max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[2] * scale))
    top = int(torch.randint(max(height - crop[0], 0) + 1, ()).item())
    left = int(torch.randint(max(width - crop[1], 0) + 1, ()).item())
    rgb = TF.resize(rgb, [height, width], interpolation=InterpolationMode.BILINEAR, antialias=True)
    rgb = rgb[:, top : top + crop[0], left : left + crop[1]]
    if torch.rand(()).item() < 0.5:
        rgb = rgb.flip(-1)
    pixels = TF.normalize(TF.to_dtype(rgb, torch.float32, scale=True), IMAGENET_MEAN, IMAGENET_STD)
    pad = (0, crop[1] - pixels.shape[2], 0, crop[0] - pixels.shape[1])
    return torch.nn.functional.pad(pixels, pad, value=0.0), pad


def test_segmentation_train_batch_normalised_on_the_device_equals_the_float_loader() -> None:
    crop, scales = (48, 40), (0.5, 1.5)  # below 1 the crop is padded
    shapes = SyntheticShapes(4, (52, 44), seed=3, transform=SegTrainTransform(crop, scales))
    keys = [(index, stream_seed(7, 1, index)) for index in range(4)]
    samples = [KeyedSamples(shapes)[key] for key in keys]
    assert all(image.dtype == torch.uint8 and mask.dtype == torch.uint8 for image, mask in samples)
    task = SegmentationTask(backbone=TINY_SEGMENTATION, num_classes=5)
    images, masks = task.normalize_inputs(torch.utils.data.default_collate(samples))
    assert images.dtype == torch.float32 and masks.dtype == torch.int64
    padded = 0
    for (index, seed), image in zip(keys, images, strict=True):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            old, pad = _old_seg_train(*shapes.sample(index), crop, scales)
        inside = (slice(None), slice(0, crop[0] - pad[3]), slice(0, crop[1] - pad[1]))
        assert (image[inside] - old[inside]).abs().max() <= ROUNDING
        assert (image - old).abs().max() <= PADDING
        padded += pad != (0, 0, 0, 0)
    assert 0 < padded < 4  # both cases were compared


def test_segmentation_val_batch_of_one_is_a_view_and_normalises_as_before() -> None:
    image, mask = SyntheticShapes(1, (37, 53), seed=0).sample(0)
    sample = SegEvalTransform()(image, mask)
    batch = collate_whole_images([sample])
    assert batch[0].data_ptr() == image.ctypes.data and batch[1].data_ptr() == mask.ctypes.data  # no copy
    task = SegmentationTask(backbone=TINY_SEGMENTATION, num_classes=5)
    images, masks = task.normalize_inputs(batch)
    assert (images[0] - normalize(image)).abs().max() <= ROUNDING and images.is_contiguous()
    assert masks.dtype == torch.int64 and torch.equal(masks[0], torch.from_numpy(mask).long())


def _keyed(transform, image: Image.Image, seed: int) -> torch.Tensor:
    """`KeyedAugment`'s seeding: python's and numpy's RNGs from torch's, keyed by `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = int(torch.randint(0, 2**31 - 1, (1,)))
        random.seed(state)
        np.random.seed(state)
        return transform(image)


@pytest.mark.parametrize("split", ["train", "val"])
def test_classification_batch_normalised_on_the_device_equals_the_float_loader(split: str) -> None:
    data = SyntheticClassesDataModule(num_train=4, num_val=4, generated_size=40, image_size=32, batch_size=4)
    data.setup("fit")
    dataset = data.dataset(split)
    raw = SyntheticClasses(len(dataset), dataset.image_size, dataset.seed)  # PIL images, no transform
    training = split == "train"
    old = create_transform(32, is_training=training, color_jitter=None, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    if training:  # the keyed stream: the dataset's own transform under the sample's seed
        keys = [(index, stream_seed(5, 0, index)) for index in range(4)]
        samples = [KeyedSamples(dataset)[key] for key in keys]
        expected = [_keyed(old, raw[index][0], seed) for index, seed in keys]
    else:
        samples = [dataset[index] for index in range(4)]
        expected = [old(raw[index][0]) for index in range(4)]
    assert all(image.dtype == torch.uint8 for image, _ in samples)
    task = ClassificationTask(backbone=TINY_CLASSIFICATION, num_classes=10)
    images, labels = task.normalize_inputs(torch.utils.data.default_collate(samples))
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    # The same crops and flips; torch's uint8 resampling instead of PIL's: one grey level at most,
    # in about 2 % of the values here (0.2 % on a 500 x 375 photo resized to 224).
    difference = (images - torch.stack(expected)).abs()
    assert difference.max() <= ONE_GREY_LEVEL and (difference > ROUNDING).float().mean() < 0.05


def _saved(path: Path, image: Image.Image, **options) -> Path:
    image.save(path, **options)
    return path


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGB", "RGBA", "I;16", "1"])
def test_the_decoder_gives_pils_pixels_on_png(tmp_path: Path, mode: str) -> None:
    """PNG exactly, in every mode (16-bit grey scaled by 255 / 65535, as `to_rgb` promises)."""
    rng = np.random.default_rng(0)
    if mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (29, 31)).astype(np.uint16))
    else:
        image = Image.fromarray(rng.integers(0, 256, (29, 31, 3), dtype=np.uint8)).convert(mode)
    path = _saved(tmp_path / "x.png", image)
    with Image.open(path) as pil:
        if mode == "I;16":
            reference = np.round(np.asarray(pil, dtype=np.float64) * (255 / 65535)).astype(np.uint8)
            reference = np.repeat(reference[..., None], 3, axis=2)
        else:
            reference = np.asarray(pil.convert("RGB"))
    decoded = read_rgb_array(path)
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, reference)
    assert np.array_equal(np.asarray(read_rgb(path)), reference)


@pytest.mark.parametrize(("mode", "subsampling"), [("RGB", 2), ("RGB", 0), ("L", 0), ("CMYK", 0)])
def test_the_decoder_gives_pils_pixels_on_jpeg(tmp_path: Path, mode: str, subsampling: int) -> None:
    """JPEG: the same libjpeg-turbo decoding as PIL's, so the same pixels (a libjpeg build with another
    IDCT or chroma upsampling would differ by a grey level or two: the bound asserted is 0)."""
    rng = np.random.default_rng(1)
    smooth = np.cumsum(rng.integers(-8, 9, (3, 64, 80)), axis=2).transpose(1, 2, 0) + 128
    image = Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8)).convert(mode)
    path = _saved(tmp_path / "x.jpg", image, quality=90, subsampling=subsampling)
    with Image.open(path) as pil:
        reference = np.asarray(pil.convert("RGB"))
    assert np.array_equal(read_rgb_array(path), reference)


def test_the_decoder_names_a_truncated_or_non_image_file(tmp_path: Path) -> None:
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    for suffix in ("png", "jpg"):
        data = _saved(tmp_path / f"whole.{suffix}", image).read_bytes()
        cut = tmp_path / f"cut.{suffix}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(InputError, match=rf"cut\.{suffix}"):
            read_rgb_array(cut)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(InputError, match=r"notes\.png"):
        read_rgb_array(tmp_path / "notes.png")
    with pytest.raises(InputError, match=r"missing\.png"):
        read_rgb_array(tmp_path / "missing.png")


def test_label_images_read_as_stored(tmp_path: Path) -> None:
    labels = np.random.default_rng(3).integers(0, 20, (9, 11), dtype=np.uint8)
    assert np.array_equal(read_labels(_saved(tmp_path / "l.png", Image.fromarray(labels))), labels)
    palette = Image.fromarray(labels).convert("P")
    with Image.open(_saved(tmp_path / "p.png", palette)) as pil:
        assert np.array_equal(read_labels(tmp_path / "p.png"), np.asarray(pil))
    with pytest.raises(InputError, match=r"rgb\.png has mode RGB"):
        read_labels(_saved(tmp_path / "rgb.png", Image.fromarray(np.zeros((4, 4, 3), np.uint8))))
