"""Built-in synthetic pose set: one articulated stick figure per image on a textured background.

Generated on the fly and deterministic per (seed, index), so it runs anywhere without a download. As
a person, a figure faces the camera (its left on the image right) or turns away (its left on the image
left), and its two sides look alike: what tells them apart is which way it faces, shown by a light
face and a green chest in front, dark hair and a purple back behind. Mirroring keeps that cue and
moves each side to the other half of the image, so the COCO flip (mirror, then swap the left/right
joints) is as right here as on people, and the flip pairs matter: a joint's side in the image names
it only together with the facing. A random patch of background sometimes covers part of the
figure; joints under it are labelled occluded (COCO's v=1). The annotations are a COCO keypoints
dict, so the same COCOeval path scores this set and COCO.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from hrnet_lit.pose.data.keypoints import COCO_SIGMAS, KeypointSpec, mirror_pairs

JOINTS: tuple[str, ...] = (
    "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
# COCO's sigmas for the same joints; the head is a drawn disc, not a nose point, so it takes the
# shoulders' 0.079 instead of the nose's 0.026.
SIGMAS: tuple[float, ...] = (0.079, *COCO_SIGMAS[5:])
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 3), (3, 5), (2, 4), (4, 6), (7, 9), (9, 11), (8, 10), (10, 12), (0, 1), (0, 2), (1, 2), (7, 8),
    (1, 7), (2, 8),
)  # fmt: skip
SPEC = KeypointSpec(JOINTS, mirror_pairs(JOINTS), list(SIGMAS), [list(e) for e in LIMBS], tuple(range(7)))
HALF_BODY_MIN_JOINTS = 6  # COCO's "more than 8 of 17" scaled to 13 joints

# Bone lengths as fractions of the figure's height.
_TORSO, _NECK, _SHOULDER, _HIP = 0.30, 0.12, 0.11, 0.07
_UPPER_ARM, _FOREARM, _THIGH, _SHIN = 0.17, 0.15, 0.23, 0.22
_LIMB = (235, 120, 40)
# (torso, head) colours facing the camera and turned away: mirror-invariant, unlike a side colour.
_FRONT, _BACK = ((60, 190, 70), (245, 205, 165)), ((150, 60, 170), (60, 35, 20))


def _direction(angle: float) -> np.ndarray:
    """Unit vector at `angle` radians from straight down (image y grows downwards)."""
    return np.array([math.sin(angle), math.cos(angle)])


def sample_pose(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, float, bool]:
    """Joints (13, 2) in pixels, the figure's height in pixels and whether it faces the camera."""
    size = rng.uniform(0.5, 0.85) * height
    lean = rng.normal(0.0, math.radians(12))
    facing = 1.0 if rng.random() < 0.5 else -1.0  # +1: facing the camera, its left on the image right
    down, side = _direction(lean), _direction(lean + math.pi / 2) * facing
    pelvis = np.zeros(2)
    neck = pelvis - down * _TORSO * size
    joints = np.zeros((13, 2))
    joints[0] = neck - down * _NECK * size
    for sign, (shoulder, elbow, wrist, hip, knee, ankle) in (
        (1, (1, 3, 5, 7, 9, 11)),
        (-1, (2, 4, 6, 8, 10, 12)),
    ):
        outward = sign * facing
        joints[shoulder] = neck + side * sign * _SHOULDER * size
        joints[hip] = pelvis + side * sign * _HIP * size
        arm = lean + outward * rng.uniform(-0.4, 2.6)
        joints[elbow] = joints[shoulder] + _direction(arm) * _UPPER_ARM * size
        joints[wrist] = joints[elbow] + _direction(arm + outward * rng.uniform(-2.0, 0.3)) * _FOREARM * size
        leg = lean + outward * rng.uniform(-0.15, 0.6)
        joints[knee] = joints[hip] + _direction(leg) * _THIGH * size
        joints[ankle] = joints[knee] + _direction(leg - outward * rng.uniform(0.0, 1.2)) * _SHIN * size
    low, high = joints.min(axis=0), joints.max(axis=0)
    margin = 0.06 * size
    span = np.array([width, height]) - (high - low) - 2 * margin
    offset = margin - low + rng.uniform(0.0, 1.0, size=2) * np.maximum(span, 0.0)
    return joints + offset, size, facing > 0


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Corner-colour gradient, two colour waves and pixel noise, float32 (H, W, 3).

    Each wave sin(a(y) + b(x)) is expanded as sin a cos b + cos a sin b: H + W sines, not H * W.
    """
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    corners = rng.uniform(0.0, 255.0, size=(4, 3)).astype(np.float32)
    top, bottom = (1 - xs) * corners[0] + xs * corners[1], (1 - xs) * corners[2] + xs * corners[3]
    image = (1 - ys) * top + ys * bottom
    for _ in range(2):
        fy, fx = (rng.uniform(-4.0, 4.0, size=2) * 2 * math.pi).tolist()
        a, b = fy * ys + rng.uniform(0, 2 * math.pi), fx * xs
        amplitude = rng.uniform(-40, 40, size=3).astype(np.float32)
        image += (np.sin(a) * np.cos(b) + np.cos(a) * np.sin(b)) * amplitude
    return image + rng.standard_normal(size=image.shape, dtype=np.float32) * 8.0


def _jitter(rng: np.random.Generator, colour: tuple[int, int, int]) -> tuple[int, ...]:
    return tuple(int(c) for c in np.clip(np.array(colour) + rng.normal(0, 20, size=3), 0, 255))


class SyntheticPoses:
    """`num_images` images of (height, width) `image_size`, one figure each, from `seed`."""

    spec = SPEC

    def __init__(self, num_images: int, image_size: tuple[int, int], seed: int) -> None:
        self.num_images = num_images
        self.height, self.width = int(image_size[0]), int(image_size[1])
        self.seed = seed

    def _rng(self, index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, index, stream])

    def _layout(self, index: int) -> tuple[np.ndarray, np.ndarray, float, bool, np.ndarray | None]:
        """Joint positions (13, 2), the COCO labels (13, 3: x, y, visibility; unlabelled outside the
        image), the figure's size, whether it faces the camera and the occluding patch (x0, y0, x1, y1)
        or None."""
        rng = self._rng(index, 0)
        points, size, front = sample_pose(rng, self.height, self.width)
        inside = (points >= 0).all(axis=1) & (points[:, 0] < self.width) & (points[:, 1] < self.height)
        visibility = np.where(inside, 2.0, 0.0)
        patch = None
        if rng.random() < 0.3:
            w, h = rng.uniform(0.2, 0.4, size=2) * size
            x0, y0 = points[rng.integers(len(points))] - rng.uniform(0.0, 1.0, size=2) * (w, h)
            patch = np.array([x0, y0, x0 + w, y0 + h])
            covered = (points >= patch[:2]).all(axis=1) & (points <= patch[2:]).all(axis=1)
            visibility = np.where(covered & inside, 1.0, visibility)
        joints = np.concatenate([np.where(inside[:, None], points, 0.0), visibility[:, None]], axis=1)
        return points, joints, size, front, patch

    def image(self, index: int) -> Image.Image:
        points, _, size, front, patch = self._layout(index)
        rng = self._rng(index, 1)
        background = _background(rng, self.height, self.width)
        image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        limb = max(2, round(0.045 * size))
        xy = [tuple(p) for p in points]
        torso, head = _FRONT if front else _BACK
        draw.polygon([xy[1], xy[2], xy[8], xy[7]], fill=_jitter(rng, torso))
        for a, b in LIMBS[:8]:
            colour = _jitter(rng, _LIMB)
            draw.line([xy[a], xy[b]], fill=colour, width=limb)
            for p in (xy[a], xy[b]):
                draw.ellipse(
                    [p[0] - limb / 2, p[1] - limb / 2, p[0] + limb / 2, p[1] + limb / 2], fill=colour
                )
        radius = 0.07 * size
        draw.ellipse([xy[0][0] - radius, xy[0][1] - radius, xy[0][0] + radius, xy[0][1] + radius],
                     fill=_jitter(rng, head))  # fmt: skip
        if patch is not None:
            x0, y0, x1, y1 = (int(v) for v in np.round(np.clip(patch, 0, [self.width, self.height] * 2)))
            if x1 > x0 and y1 > y0:
                cover = np.clip(_background(rng, y1 - y0, x1 - x0), 0, 255).astype(np.uint8)
                image.paste(Image.fromarray(cover), (x0, y0))
        return image

    def coco(self) -> dict[str, Any]:
        """The set's COCO keypoints annotations (image ids 1 ..., one person each)."""
        images, annotations = [], []
        for index in range(self.num_images):
            _, joints, size, _, _ = self._layout(index)
            labelled = joints[joints[:, 2] > 0, :2]
            margin = 0.07 * size
            low = np.maximum(labelled.min(axis=0) - margin, 0.0)
            high = np.minimum(labelled.max(axis=0) + margin, [self.width - 1, self.height - 1])
            w, h = (high - low).tolist()
            images.append(
                {"id": index + 1, "file_name": f"{index:06d}.png", "height": self.height, "width": self.width}
            )
            annotations.append(
                {
                    "id": index + 1,
                    "image_id": index + 1,
                    "category_id": 1,
                    "bbox": [float(low[0]), float(low[1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                    "keypoints": [float(v) for v in joints.reshape(-1)],
                    "num_keypoints": int((joints[:, 2] > 0).sum()),
                }
            )
        category = {
            "id": 1,
            "name": "figure",
            "supercategory": "figure",
            "keypoints": list(JOINTS),
            "skeleton": [[a + 1, b + 1] for a, b in LIMBS],
        }
        return {"images": images, "annotations": annotations, "categories": [category]}
