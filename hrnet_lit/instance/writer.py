"""What instance `predict` writes: COCO's segmentation results (RLE masks, pycocotools) and images with
the masks drawn, and the image ids that a results file needs for images read from a folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pycocotools import mask as coco_mask
from torchvision.utils import draw_segmentation_masks

COCO_NAME = re.compile(r"(?:COCO_[a-z]+\d{4}_)?(\d{12})")  # 000000397133.jpg, COCO_val2014_000000397133.jpg


class ImageIds:
    """Image ids for the results json: COCO's own id for a COCO file name (`000000397133.jpg` ->
    397133), so the file scores against COCO's annotations as it is; any other image gets the next
    id above every id given so far."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, file_name: str) -> int:
        if file_name not in self.ids:
            found = COCO_NAME.fullmatch(Path(file_name).stem)
            taken = set(self.ids.values())
            if found and int(found.group(1)) not in taken:
                self.ids[file_name] = int(found.group(1))
            else:
                self.ids[file_name] = max(taken, default=0) + 1
        return self.ids[file_name]


def encode_masks(masks: torch.Tensor) -> list[dict[str, Any]]:
    """COCO RLEs ({'size': [H, W], 'counts': str}) of binary masks (D, H, W)."""
    if len(masks) == 0:
        return []
    array = np.asfortranarray(masks.detach().cpu().numpy().astype(np.uint8).transpose(1, 2, 0))
    rles = coco_mask.encode(array)
    return [{"size": [int(s) for s in r["size"]], "counts": r["counts"].decode("ascii")} for r in rles]


def results(
    found: dict[str, torch.Tensor],
    masks: torch.Tensor,
    image_id: int,
    file_name: str,
    category_ids: list[int],
) -> list[dict[str, Any]]:
    """One image's detections in COCO's results format: `image_id`, `category_id`, `bbox` (x, y,
    width, height), `score`, `segmentation` (RLE), plus `file_name`."""
    boxes, labels, scores = (found[k].detach().cpu() for k in ("boxes", "labels", "scores"))
    rows = []
    for box, label, score, rle in zip(
        boxes.tolist(), labels.tolist(), scores.tolist(), encode_masks(masks), strict=True
    ):
        x0, y0, x1, y1 = box
        rows.append(
            {
                "image_id": image_id,
                "file_name": file_name,
                "category_id": category_ids[label - 1],
                "bbox": [round(v, 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                "score": round(score, 4),
                "segmentation": rle,
            }
        )
    return rows


def overlay_masks(
    image: torch.Tensor, masks: torch.Tensor, colours: list[tuple[int, int, int]]
) -> torch.Tensor:
    """The 0-1 image (3, H, W) with the binary masks (D, H, W) blended in, one colour each."""
    if len(masks) == 0:
        return image
    pixels = (image.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    drawn = draw_segmentation_masks(pixels, masks.detach().cpu().bool(), alpha=0.5, colors=colours)
    return drawn.float() / 255.0
