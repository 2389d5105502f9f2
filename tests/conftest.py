"""Fixtures and process settings for every test; the shared tiny networks, flags and readers live in
helpers.py. Prints which lane ran: `make test-fast` (-m "not slow") or the whole suite (`make test`)."""

from __future__ import annotations

import os

import pytest
import torch
from helpers import SEGMENTATION_FIT

# One thread per process: the tiny runs gain nothing from more, and the CLI and sweep
# subprocesses they start would otherwise fight over the cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
torch.set_num_threads(1)

LANES = {
    "": "full: slow tests included (make test)",
    "not slow": "fast: unit tests, no end-to-end runs, notebooks or servers (make test-fast)",
    "slow": "slow: end-to-end runs, notebooks and servers only",
}


@pytest.fixture
def tiny_fit() -> list[str]:
    return list(SEGMENTATION_FIT)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Name the lane, so that a green fast lane is not read as a green suite."""
    expression = config.option.markexpr.strip()
    lane = LANES.get(expression, f"custom (-m {expression!r})")
    terminalreporter.write_line(f"lane: {lane}")
