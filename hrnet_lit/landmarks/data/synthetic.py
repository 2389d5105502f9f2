"""Built-in synthetic faces: one drawn face per image, 22 landmarks on its drawn contours, so the
quickstart runs anywhere without a download.

A face (skin ellipse, jaw line, brows, eyes with pupils, nose, lips) looks at the camera, turned in
the image plane and a little sideways (its features shifted towards one cheek), on a noisy
background. Each landmark is a point of a drawn contour: nine on the jaw line, the two ends of each
brow, the two corners of each eye, the nose tip, and the corners and midpoints of the lips. As on
real faces, the subject's right is on the image left, and the names and flip pairs follow the
official sets: landmark 0 starts the jaw on the subject's right. The NME normaliser is the
inter-ocular distance (the outer eye corners), as WFLW's and 300W's.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from hrnet_lit.landmarks.data.specs import LandmarkSpec
from hrnet_lit.landmarks.data.transforms import Face
from hrnet_lit.pose.affine import PIXEL_STD

_JAW = 9
# Face-frame points (x right in the image, y down, unit: the face's half width) of the inner landmarks.
_BROWS = ((-0.62, -0.42), (-0.18, -0.5), (0.18, -0.5), (0.62, -0.42))
_EYES = ((-0.62, -0.18), (-0.2, -0.18), (0.2, -0.18), (0.62, -0.18))  # subject's right outer, inner, ...
_NOSE = ((0.0, 0.28),)
_MOUTH = ((-0.36, 0.62), (0.0, 0.52), (0.36, 0.62), (0.0, 0.76))  # right corner, top, left corner, bottom
NUM_LANDMARKS = _JAW + len(_BROWS) + len(_EYES) + len(_NOSE) + len(_MOUTH)  # 22
SPEC = LandmarkSpec(
    "synthetic",
    NUM_LANDMARKS,
    (
        *((k, _JAW - 1 - k) for k in range(_JAW // 2)),
        (9, 12), (10, 11),  # brows
        (13, 16), (14, 15),  # eye corners
        (18, 20),  # mouth corners
    ),
    norm_landmarks=(13, 16),  # outer eye corners: inter-ocular
)  # fmt: skip
_CHIN = 1.3  # the jaw's half height over the face's half width


def face_points(yaw: float) -> np.ndarray:
    """The 22 landmarks in the face frame; `yaw` shifts the inner features sideways."""
    angles = np.linspace(math.pi, 0.0, _JAW)
    jaw = np.stack([np.cos(angles), np.sin(angles) * _CHIN], axis=1)
    inner = np.array([*_BROWS, *_EYES, *_NOSE, *_MOUTH])
    inner[:, 0] = inner[:, 0] * (1 - abs(yaw) * 0.3) + yaw * 0.3
    return np.concatenate([jaw, inner])


class SyntheticFaces:
    """`count` faces of `size` (height, width) pixels, deterministic per (seed, index)."""

    spec = SPEC

    def __init__(self, count: int, size: tuple[int, int], seed: int) -> None:
        self.count = count
        self.size = (int(size[0]), int(size[1]))
        self.seed = seed

    def __len__(self) -> int:
        return self.count

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, index])

    def _geometry(
        self, index: int
    ) -> tuple[np.ndarray, float, float, np.ndarray, float, np.random.Generator]:
        rng = self._rng(index)
        h, w = self.size
        half = rng.uniform(0.2, 0.3) * min(h, w)
        angle = math.radians(rng.uniform(-25.0, 25.0))
        yaw = rng.uniform(-0.35, 0.35)
        margin = half * 1.5
        center = np.array([rng.uniform(margin, w - margin), rng.uniform(margin, h - margin)])
        return center, half, angle, np.array([yaw]), float(rng.uniform(0.6, 1.0)), rng

    @staticmethod
    def _to_image(points: np.ndarray, center: np.ndarray, half: float, angle: float) -> np.ndarray:
        cos, sin = math.cos(angle), math.sin(angle)
        rotation = np.array([[cos, -sin], [sin, cos]])
        return points * half @ rotation.T + center

    def face(self, index: int) -> Face:
        center, half, angle, yaw, _, _ = self._geometry(index)
        landmarks = self._to_image(face_points(float(yaw[0])), center, half, angle)
        low, high = landmarks.min(axis=0), landmarks.max(axis=0)
        a, b = SPEC.norm_landmarks
        return Face(
            center=(low + high) / 2,
            scale=float((high - low).max()) / PIXEL_STD,
            landmarks=landmarks,
            weight=np.ones(NUM_LANDMARKS, dtype=np.float32),
            norm=float(np.linalg.norm(landmarks[a] - landmarks[b])),
            image=index,
        )

    def image(self, index: int) -> Image.Image:
        center, half, angle, yaw_, tone, rng = self._geometry(index)
        yaw = float(yaw_[0])
        h, w = self.size
        noise = rng.integers(0, 90, size=(h, w, 1)) + rng.integers(0, 120, size=(1, 1, 3))
        image = Image.fromarray(noise.astype(np.uint8))
        draw = ImageDraw.Draw(image)

        def poly(points: np.ndarray) -> list[tuple[float, float]]:
            return [tuple(p) for p in self._to_image(points, center, half, angle)]

        theta = np.linspace(0.0, 2 * math.pi, 48, endpoint=False)
        head = np.stack([np.cos(theta), np.where(np.sin(theta) > 0, _CHIN, 1.15) * np.sin(theta)], axis=1)
        skin = tuple(int(c * tone) for c in (250, 205, 165))
        draw.polygon(poly(head), fill=skin)
        top = np.linspace(math.pi, 2 * math.pi, 25)
        hair = np.stack([np.cos(top), np.sin(top) * 1.15], axis=1) * 1.02
        draw.line(poly(hair), fill=(50, 30, 20), width=max(2, round(half / 6)))
        lower = np.linspace(math.pi, 0.0, 25)
        draw.line(poly(np.stack([np.cos(lower), np.sin(lower) * _CHIN], axis=1)), fill=(120, 70, 50), width=2)
        pts = face_points(yaw)
        for a, b in ((9, 10), (11, 12)):
            draw.line(poly(pts[[a, b]]), fill=(70, 40, 25), width=max(2, round(half / 10)))
        for outer, inner in ((13, 14), (16, 15)):
            mid, span = (pts[outer] + pts[inner]) / 2, (pts[outer] - pts[inner]) / 2
            t = np.linspace(0.0, 2 * math.pi, 20, endpoint=False)
            eye = mid + np.outer(np.cos(t), span) + np.outer(np.sin(t), [0.0, 0.09])
            draw.polygon(poly(eye), fill=(245, 245, 245), outline=(60, 40, 30))
            pupil = poly(mid + np.stack([np.cos(t), np.sin(t)], axis=1) * 0.07)
            draw.polygon(pupil, fill=(40, 70, 120))
        nose = pts[17]
        draw.polygon(poly(nose + np.array([[-0.1, 0.0], [0.0, -0.35], [0.1, 0.0]])), fill=(190, 130, 100))
        draw.polygon(poly(pts[18:22]), fill=(190, 50, 60))
        return image
