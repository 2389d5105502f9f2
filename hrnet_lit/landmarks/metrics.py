"""Landmark metrics as the papers report them: NME (the mean point-to-point error of a face over its
normaliser), the failure rate and the area under the cumulative error curve up to a threshold (0.10),
and NME per attribute subset (WFLW's pose, expression, ...). Gathered across processes like any
torchmetrics Metric."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


def face_nme(pred: Tensor, truth: Tensor, norm: Tensor, weight: Tensor) -> Tensor:
    """Per face: the mean distance over its annotated landmarks (weight > 0) divided by its normaliser,
    as the official `compute_nme` (sum of distances / (normaliser * L)). pred, truth (N, K, 2) in image
    pixels, norm (N,), weight (N, K)."""
    shown = (weight > 0).to(pred.dtype)
    distance = (pred - truth).norm(dim=-1) * shown
    return distance.sum(dim=1) / (norm.clamp_min(1e-12) * shown.sum(dim=1).clamp_min(1))


def failure_rate(nme: Tensor, threshold: float) -> Tensor:
    """Share of faces whose NME exceeds `threshold` (the official `nme > 0.10` count)."""
    return (nme > threshold).to(torch.float64).mean() if nme.numel() else torch.tensor(0.0)


def ced_auc(nme: Tensor, threshold: float, steps: int = 1000) -> Tensor:
    """Area under the cumulative error distribution from 0 to `threshold`, divided by `threshold` (1: every
    face exact), by the trapezoid rule on `steps` intervals, as the WFLW and COFW evaluations."""
    errors = nme.detach().double().cpu().numpy()
    grid = np.linspace(0.0, threshold, steps + 1)
    ced = (errors[None, :] <= grid[:, None]).mean(axis=1) if errors.size else np.zeros_like(grid)
    area = float(((ced[1:] + ced[:-1]) * 0.5 * np.diff(grid)).sum())
    return torch.tensor(area / threshold)


class NME(Metric):
    """Per-face NMEs, and their flags for each attribute subset; `compute` gives `NME`, `FR@<t>`,
    `AUC@<t>` and `NME_<subset>` for each subset that has a face."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, threshold: float = 0.10, attribute_names: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.threshold = threshold
        self.attribute_names = tuple(attribute_names)
        self.add_state("nme", [], dist_reduce_fx="cat")
        self.add_state("attributes", [], dist_reduce_fx="cat")

    def update(self, pred: Tensor, truth: Tensor, norm: Tensor, weight: Tensor, attributes: Tensor) -> None:
        """pred, truth (N, K, 2) image pixels; norm (N,); weight (N, K); attributes (N, A) 0/1 flags."""
        self.nme.append(face_nme(pred.double(), truth.double(), norm.double(), weight))
        self.attributes.append(attributes.reshape(len(pred), -1).to(torch.bool))

    def compute(self) -> dict[str, Tensor]:
        nme = dim_zero_cat(self.nme) if self.nme else torch.zeros(0, dtype=torch.float64)
        t = f"{self.threshold:.2f}"
        out = {
            "NME": nme.mean() if nme.numel() else torch.tensor(float("nan")),
            f"FR@{t}": failure_rate(nme, self.threshold),
            f"AUC@{t}": ced_auc(nme, self.threshold),
        }
        if self.attributes and self.attribute_names:
            flags = dim_zero_cat(self.attributes)
            for k, name in enumerate(self.attribute_names):
                chosen = nme[flags[:, k]]
                if chosen.numel():
                    out[f"NME_{name.replace('-', '')}"] = chosen.mean()
        return {key: value.float() for key, value in out.items()}
