"""`make notebooks` starts JupyterLab on notebooks/: the server answers and serves the notebooks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.server]

REPO = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def test_make_notebooks_serves_the_notebooks(tmp_path: Path) -> None:
    port, token = free_port(), "hrnet-lit-test"
    flags = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0"
    if os.geteuid() == 0:  # containers and some CI runners: Jupyter refuses root without this
        flags += " --allow-root"
    venv = Path(sys.prefix)
    server = subprocess.Popen(
        # -o: take this venv's install stamp as up to date, so only the target's own recipe runs.
        ["make", "-o", str(venv / ".installed"), "notebooks", f"VENV={venv}", f"JUPYTER_FLAGS={flags}"],
        cwd=REPO,
        env={
            **os.environ,
            "JUPYTER_TOKEN": token,
            "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),  # no user settings in or out
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # make and the server it starts stop together
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                version = get_json(f"http://127.0.0.1:{port}/api")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"no server on port {port}: {server.stderr.read().decode()[-3000:]}")
                time.sleep(0.5)
        assert "version" in version
        listing = get_json(f"http://127.0.0.1:{port}/api/contents?token={token}")
        served = {item["name"] for item in listing["content"]}
        assert served == {p.name for p in (REPO / "notebooks").iterdir() if not p.name.startswith(".")}
        assert "01_architecture.ipynb" in served
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
