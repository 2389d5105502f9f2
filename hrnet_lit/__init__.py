"""hrnet-lit: HRNet (V1 / V2 / V2p / HRNet-C) for research on PyTorch Lightning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from hrnet_lit.common.predictor import Predictor

__version__ = "0.1.0"


def load(
    path: str | Path,
    device: str | torch.device = "cpu",
    precision: str | None = None,
    **options: Any,
) -> Predictor[Any]:
    """The predictor of a trained model: `predictor.predict(images)` gives typed results in each
    image's pixels, without a Lightning Trainer (docs/predict.md).

    Args:
        path: a `hrnet-lit fit` checkpoint (its task, weights and evaluation settings; the data
            settings from the run's `config.yaml` beside its `checkpoints/` folder, else from the
            checkpoint), or, with `config`, a timm / official weights file.
        device: where the network runs (`cpu`, `cuda`, `cuda:1`, ...).
        precision: None or `32` (float32), `16-mixed` or `bf16-mixed` (autocast).
        options: `config` (a fit config: its data settings, and the network for plain weights),
            `batch_size` (images, or crops, per network call; default 8), and the task's own:
            segmentation `probs`, classification `top_k`, pose `detector`, `image_thre` and
            `input_size`, landmarks `input_size`.

    The package stays light to import: this imports torch, Lightning and the task when called.
    """
    from hrnet_lit.common.predictor import load as load_predictor

    return load_predictor(path, device, precision, **options)
