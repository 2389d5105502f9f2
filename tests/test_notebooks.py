"""The notebooks in notebooks/ run end to end (tiny settings, offline) and are committed without outputs."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "hrnet-lit-tests"

# What every run in a notebook trains: the W18-small-v1 layout at width 8 on 64 x 64 synthetic images.
TINY_RUN = [
    "--trainer.limit_val_batches=1",
    "--trainer.log_every_n_steps=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--model.backbone.width=8",
    "--data.num_train=8",
    "--data.num_val=4",
    "--data.image_size=[64,64]",
    "--data.crop_size=[64,64]",
    "--data.batch_size=4",
]

# A results table as `hrnet-lit sweep configs/sweeps/width.yaml` writes it, with one failed run, so
# 03_ablations reads existing results for this sweep and starts a (one-run) local sweep for the other.
WIDTH_RESULTS = """\
run,status,model.backbone.width,model.backbone.num_modules,params,gmacs,val/mIoU,wall_s,error
0,ok,48,"[1, 1, 4, 3]",65859379,10.62,0.71,300.0,
1,ok,18,"[1, 1, 1, 1]",3939579,1.21,0.55,60.0,
2,ok,18,"[1, 1, 4, 3]",9641119,2.09,0.62,100.0,
3,failed,32,"[1, 1, 1, 1]",,,,1.0,RuntimeError: out of memory
"""


def parameters(name: str, out: Path) -> dict[str, Any]:
    """Test values for every name in the notebook's `parameters` cell."""
    if name == "01_architecture.ipynb":
        return {
            "PRESETS": ["w18_small_v1"],
            "WIDTHS": [8, 16],
            "MODULES": [1, 2],
            "CURVE_PRESET": "w18_small_v1",
            "FEATURE_PRESET": "w18_small_v1",
            "CHECKPOINT": None,
            "IMAGE_SIZE": 64,
            "TIMING_PRESET": "w18_small_v1",
            "TIMING_SIZE": (64, 64),
            "TIMING_REPEATS": 1,
            "OUTPUT_DIR": str(out),
        }
    if name == "02_training.ipynb":
        return {
            "CONFIG": "configs/quickstart.yaml",
            "MAX_EPOCHS": 2,
            "OVERRIDES": TINY_RUN,
            "NUM_EXAMPLES": 2,
            "OUTPUT_DIR": str(out),
        }
    if name == "03_ablations.ipynb":
        results = out / "results"
        (results / "width").mkdir(parents=True)
        (results / "width" / "results.csv").write_text(WIDTH_RESULTS)
        return {
            "SWEEPS": {
                "fuse_method": "configs/sweeps/fuse_method.yaml",
                "width": "configs/sweeps/width.yaml",
            },
            "RESULTS_DIR": str(results),
            "WANDB_SWEEP": None,
            "RUN_IF_MISSING": True,
            "LOCAL_COUNT": 1,
            "LOCAL_EXTRA": [
                "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
                "--trainer.max_steps=2",
                *TINY_RUN,
            ],
            "METRIC": "val/mIoU",
            "OUTPUT_DIR": str(out),
        }
    if name == "04_pose.ipynb":
        return {
            "CONFIG": "../configs/pose/quickstart.yaml",
            "MAX_EPOCHS": 1,
            "OVERRIDES": [
                "--trainer.max_steps=2",
                "--trainer.limit_val_batches=1",
                "--trainer.enable_progress_bar=false",
                "--model.backbone.width=8",
                "--data.num_train=8",
                "--data.num_val=4",
                "--data.batch_size=4",
            ],
            "NUM_EXAMPLES": 2,
            "OUTPUT_DIR": str(out),
        }
    if name == "05_detection.ipynb":
        return {
            "CONFIG": "../configs/detection/quickstart.yaml",
            "MAX_EPOCHS": 1,
            "OVERRIDES": [
                "--trainer.max_steps=3",
                "--trainer.log_every_n_steps=1",
                "--trainer.limit_val_batches=1",
                "--trainer.enable_progress_bar=false",
                "--trainer.enable_model_summary=false",
                "--model.backbone.width=4",
                "--model.backbone.num_blocks=[1,1,1,1]",
                "--model.detector.min_size=64",
                "--model.detector.max_size=64",
                "--model.detector.fpn_channels=16",
                "--model.detector.box_head_width=32",
                "--data.num_train=12",
                "--data.num_val=4",
                "--data.image_size=[64,64]",
                "--data.batch_size=4",
            ],
            "NUM_EXAMPLES": 2,
            "SCORE_THRESH": 0.0,
            "OUTPUT_DIR": str(out),
        }
    raise KeyError(f"no test parameters for {name}: add them to tests/test_notebooks.py")


def assigned_names(source: str) -> set[str]:
    return {t.id for node in ast.parse(source).body if isinstance(node, ast.Assign) for t in node.targets}


def parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "a notebook needs exactly one cell tagged `parameters`"
    return cells[0]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A kernel spec running this interpreter (the venv's), found through JUPYTER_PATH, plus the
    environment the kernels and the sweep processes they start inherit."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "hrnet-lit tests", "language": "python"})
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(jupyter))
        mp.setenv("MPLBACKEND", "Agg")
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        # Tiny networks gain nothing from threads, and on shared cores OpenMP threads that wait for
        # each other make a few-step fit take 10x longer.
        mp.setenv("OMP_NUM_THREADS", "1")
        yield KERNEL


NAMES = [
    "01_architecture.ipynb",
    "02_training.ipynb",
    "03_ablations.ipynb",
    "04_pose.ipynb",
    "05_detection.ipynb",
]


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name: str, kernel: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = parameters_cell(nb)
    values = parameters(name, tmp_path / "outputs")
    assert set(values) == assigned_names(cell.source), "test values must cover the parameters cell"
    cell.source = "\n".join(f"{key} = {value!r}" for key, value in values.items())
    client = NotebookClient(
        nb, timeout=600, kernel_name=kernel, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    try:
        client.execute()  # raises CellExecutionError, with the cell's traceback, when a cell fails
    finally:
        nbformat.write(nb, tmp_path / name)  # the executed notebook, for a look after a failure
    assert any(p.suffix == ".png" for p in (tmp_path / "outputs").rglob("*")), "no figure was saved"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    parameters_cell(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell has outputs; clear them before committing"
            assert cell.execution_count is None, f"{name}: a cell has an execution count"
