"""Reading a `hrnet-lit fit` checkpoint: only tensors and plain data, never code from the file.

Every checkpoint load of the project (`--ckpt_path` of fit / validate / test / predict, Lightning's
own restore, `hrnet-lit export`) uses `torch.load(weights_only=True)`. The only project type a
checkpoint may hold is `BackboneConfig`: a task built in Python (not through the CLI) saves it in its
hyperparameters. It is allow-listed once, here, so that Lightning's restore accepts it as well.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from hrnet_lit.errors import InputError, MissingInputError
from hrnet_lit.models.config import BackboneConfig

SAFE_GLOBALS: list[type] = [BackboneConfig]
torch.serialization.add_safe_globals(SAFE_GLOBALS)

# What every Lightning checkpoint of a LightningCLI-built task carries.
_REQUIRED = ("state_dict", "hyper_parameters", "pytorch-lightning_version")


def read_checkpoint(path: str | Path, flag: str = "--ckpt_path") -> dict[str, Any]:
    """The checkpoint at `path`, on the CPU; an `InputError` naming `flag` and the file when it is
    missing, not a PyTorch file, would need code to unpickle, or is not a Lightning checkpoint."""
    path = Path(path)
    where = f"{flag} {str(path)!r}"
    if not path.exists():
        raise MissingInputError(f"{where} does not exist")
    if not path.is_file():
        raise InputError(f"{where} is not a file (expected a .ckpt written by `hrnet-lit fit`)")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{where} is not a PyTorch checkpoint (not the zip archive that torch.save writes)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"GLOBAL (\S+)", str(error))
        needs = found.group(1) if found else "an object that is neither a tensor nor plain data"
        raise InputError(
            f"{where} was refused: unpickling it needs {needs}, which is not allowed (checkpoints load "
            "with weights_only=True: tensors, plain data and the project's BackboneConfig only)"
        ) from None
    except Exception as error:  # how torch.load fails on other files: KeyError, EOFError, RuntimeError ...
        raise InputError(f"{where} is not a PyTorch checkpoint ({type(error).__name__}: {error})") from None
    is_dict = isinstance(checkpoint, dict)
    missing = [key for key in _REQUIRED if not is_dict or key not in checkpoint]
    if not missing and not all(isinstance(checkpoint[k], dict) for k in ("state_dict", "hyper_parameters")):
        missing = ["a state_dict and hyper_parameters that are dicts"]
    if missing:
        raise InputError(
            f"{where} is not a Lightning checkpoint of `hrnet-lit fit` (it lacks {', '.join(missing)}); "
            "backbone weights alone go to --model.pretrained"
        )
    return checkpoint
