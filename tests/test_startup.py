"""`hrnet-lit --help` and the tools on network flags start without Lightning (whose import takes seconds)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hrnet_lit.cli import LIGHTNING_LINES, TOOL_LINES, TOOLS, main

# Runs each command line in a fresh interpreter and says, after each, whether Lightning is loaded.
PROBE = """
import contextlib, io, json, sys
from hrnet_lit.cli import main

report = []
for argv in json.loads(sys.argv[1]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(argv)
    loaded = any(m.partition(".")[0] in ("lightning", "pytorch_lightning") for m in sys.modules)
    report.append({"argv": argv, "stdout": out.getvalue(), "lightning": loaded})
print(json.dumps(report))
"""

NETWORK = ["--preset=w18_small_v1", "--width=8", "--head=v2", "--num_classes=5", "--input_size=[64,64]"]


@pytest.mark.slow  # a fresh interpreter
def test_help_and_network_tools_do_not_import_lightning() -> None:
    runs = [
        [],
        ["-h"],
        ["--help"],
        ["summary", *NETWORK, "--json=true"],
        ["export", "--help"],
        ["bench", "-h"],
    ]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(runs)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert [r["argv"] for r in report if r["lightning"]] == []
    for r in report[:3]:
        listed = [line.split()[0] for line in r["stdout"].splitlines() if line.startswith("  ")]
        assert listed == [*LIGHTNING_LINES, *TOOL_LINES]
    assert json.loads(report[3]["stdout"])["params"] > 0
    assert "--opset" in report[4]["stdout"] and "--batch_size" in report[5]["stdout"]


def test_every_tool_has_a_help_line() -> None:
    assert set(TOOL_LINES) == set(TOOLS)


def test_fit_help_is_lightning_clis(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--trainer.devices" in out and "--model.help" in out
    with pytest.raises(SystemExit) as exit_info:  # the task's own arguments, as its config spells them
        main(["fit", "--model.help", "SegmentationTask"])
    assert exit_info.value.code == 0
    assert "--model.backbone.norm" in capsys.readouterr().out
