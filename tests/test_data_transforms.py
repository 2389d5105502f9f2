import numpy as np
import pytest
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from hrnet_lit.common.normalize import IMAGENET_MEAN, IMAGENET_STD, denormalize, normalize
from hrnet_lit.segmentation.data.transforms import (
    PAD_COLOUR,
    SegEvalTransform,
    SegTrainTransform,
    resized_crop,
)


def _pair(height: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = rng.integers(0, 5, (height, width), dtype=np.uint8)
    return image, mask


def test_train_output_is_crop_sized_uint8_image_and_uint8_mask() -> None:
    image, mask = _pair(60, 90)
    out_image, out_mask = SegTrainTransform((32, 48))(image, mask, torch.Generator().manual_seed(0))
    assert out_image.shape == (3, 32, 48) and out_image.dtype == torch.uint8
    assert out_mask.shape == (32, 48) and out_mask.dtype == torch.uint8


def test_small_inputs_are_padded_with_ignore_index_and_mean_colour() -> None:
    image, mask = _pair(10, 12)
    transform = SegTrainTransform((20, 16), scale_range=(1.0, 1.0), ignore_index=255, flip=False, jitter=0.0)
    out_image, out_mask = transform(image, mask)
    assert torch.equal(out_mask[:10, :12], torch.from_numpy(mask))
    assert (out_mask[10:] == 255).all() and (out_mask[:, 12:] == 255).all()
    assert torch.equal(out_image[:, :10, :12], torch.from_numpy(image).permute(2, 0, 1))
    colour = PAD_COLOUR.view(3, 1)  # the ImageNet mean colour, rounded
    assert (out_image[:, 10:].flatten(1) == colour).all()
    assert (out_image[:, :, 12:].flatten(1) == colour).all()


def test_resized_crop_equals_resizing_the_whole_image_then_cropping() -> None:
    """Crop first, the same pixels: over random sizes, up- and down-scales (1.0 too) and crops."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(1, 60, 2))
        rgb = torch.from_numpy(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).permute(2, 0, 1)
        scale = float(rng.choice([rng.uniform(0.2, 3.0), 1.0]))
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        crop_h, crop_w = int(rng.integers(1, size[0] + 1)), int(rng.integers(1, size[1] + 1))
        top, left = int(rng.integers(0, size[0] - crop_h + 1)), int(rng.integers(0, size[1] - crop_w + 1))
        whole = TF.resize(rgb, list(size), interpolation=InterpolationMode.BILINEAR, antialias=True)
        expected = whole[:, top : top + crop_h, left : left + crop_w]
        assert torch.equal(resized_crop(rgb, size, (top, left, top + crop_h, left + crop_w)), expected)


def test_rescale_uses_nearest_labels() -> None:
    image, mask = _pair(8, 10)
    transform = SegTrainTransform((16, 20), scale_range=(2.0, 2.0), flip=False, jitter=0.0)
    out_image, out_mask = transform(image, mask)
    assert out_image.shape == (3, 16, 20)
    assert torch.equal(out_mask, torch.from_numpy(mask.repeat(2, 0).repeat(2, 1)))


def test_flip_moves_image_and_mask_together() -> None:
    image, mask = _pair(16, 24)
    transform = SegTrainTransform((16, 24), scale_range=(1.0, 1.0), flip=True, jitter=0.0)
    flipped = 0
    for seed in range(16):
        out_image, out_mask = transform(image, mask, torch.Generator().manual_seed(seed))
        if torch.equal(out_mask, torch.from_numpy(mask[:, ::-1].copy())):
            assert torch.equal(out_image, torch.from_numpy(image[:, ::-1].copy()).permute(2, 0, 1))
            flipped += 1
        else:
            assert torch.equal(out_mask, torch.from_numpy(mask))
            assert torch.equal(out_image, torch.from_numpy(image).permute(2, 0, 1))
    assert 0 < flipped < 16


def test_same_generator_seed_gives_same_augmentation() -> None:
    image, mask = _pair(40, 40)
    transform = SegTrainTransform((24, 24))
    first = transform(image, mask, torch.Generator().manual_seed(3))
    second = transform(image, mask, torch.Generator().manual_seed(3))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_eval_transform_keeps_size_and_labels() -> None:
    image, mask = _pair(37, 53)
    out_image, out_mask = SegEvalTransform()(image, mask)
    assert torch.equal(out_image, torch.from_numpy(image).permute(2, 0, 1))
    assert torch.equal(out_mask, torch.from_numpy(mask)) and out_mask.dtype == torch.uint8


def test_normalize_and_denormalize_round_trip() -> None:
    image, _ = _pair(5, 7)
    white = normalize(np.full((1, 1, 3), 255, dtype=np.uint8))
    expected = [(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    assert torch.allclose(white.flatten(), torch.tensor(expected))
    assert np.array_equal(denormalize(normalize(image)), image)


def test_bad_arguments_and_inputs_are_reported() -> None:
    with pytest.raises(ValueError, match="crop_size"):
        SegTrainTransform((0, 8))
    with pytest.raises(ValueError, match="scale_range"):
        SegTrainTransform((8, 8), scale_range=(2.0, 1.0))
    image, mask = _pair(8, 8)
    with pytest.raises(ValueError, match=r"mask shape \(8, 7\)"):
        SegEvalTransform()(image, mask[:, :7])
    with pytest.raises(ValueError, match="uint8 RGB"):
        SegEvalTransform()(image[..., 0], mask)
