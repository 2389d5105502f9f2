"""`hrnet-lit export`: a task's whole inference to ONNX (uint8 RGB in, the task's results out), or with
`--network_only=true` its network alone (normalised float in, raw outputs out)."""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from jsonargparse import ArgumentParser
from torch import nn

from hrnet_lit.common.atomic import atomic_path, writable_folder
from hrnet_lit.common.exportable import WholeModel
from hrnet_lit.errors import InputError
from hrnet_lit.tools.network_args import (
    NetworkArgs,
    add_network_arguments,
    check_input_size,
    named_task,
    split_own_flags,
    uses_fit_config,
)

TORCHSCRIPT_OPSET = 17  # the whole models' default opset (torchvision's RoIAlign needs >= 16)


def export_onnx(
    model: nn.Module, output: str | Path, input_size: tuple[int, int] = (512, 512), opset: int | None = None
) -> Path:
    """Write `model` (in eval mode) as ONNX to `output` and return its path.

    A `WholeModel` (a task's whole inference) exports under its own input and output names and
    dynamic axes (`write_whole`); any other network takes a normalised float batch
    `image` with batch, height and width dynamic, and a head that returns a list (V2p) gives one
    output per level. `input_size` only shapes the example traced through. The file appears
    atomically (a failed export leaves no truncated model behind) and readable by others, as any
    file the project writes (`atomic_path`).
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    modes = [(m, m.training) for m in model.modules()]  # a wrapper's own mode is not its parts'
    model.eval()
    try:
        with torch.no_grad(), atomic_path(output) as tmp:
            if isinstance(model, WholeModel):
                write_whole(model, model.example(input_size), tmp, opset)
            else:
                write_network(model, input_size, tmp, opset)
    finally:
        for module, mode in modes:
            module.training = mode
    return output


def write_network(model: nn.Module, input_size: tuple[int, int], path: Path, opset: int | None) -> None:
    example = torch.randn(2, 3, *input_size, device=next(model.parameters()).device)
    outputs = model(example)
    count = len(outputs) if isinstance(outputs, list | tuple) else 1
    dims = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
    torch.onnx.export(
        model,
        (example,),
        path,
        input_names=["image"],
        output_names=["output"] if count == 1 else [f"output{k}" for k in range(count)],
        opset_version=opset,
        dynamic_shapes=(dims,),
        external_data=False,
    )


def write_whole(model: WholeModel, example: torch.Tensor, path: Path, opset: int | None) -> None:
    """Through the TorchScript-based exporter (`dynamo=False`), for every task alike: torchvision's
    detectors need it (torch.export cannot follow their data-dependent shapes), and it writes the
    others in seconds where torch.export takes minutes here. Sizes stay dynamic where the model
    computes them from traced shapes (each `WholeModel` does; the parity tests check two sizes)."""
    with warnings.catch_warnings():  # the exporter's deprecation and the tracer's notes on constants
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            path,
            dynamo=False,
            opset_version=opset or TORCHSCRIPT_OPSET,
            input_names=list(model.input_names),
            output_names=list(model.output_names),
            dynamic_axes=model.dynamic_axes,
        )


def whole_model(task: nn.Module, input_size: tuple[int, int]) -> WholeModel:
    """The task's whole inference (its package's `exported.whole_model`); an `InputError` for a task
    that has none."""
    package = type(task).__module__.rpartition(".")[0]
    try:
        module = importlib.import_module(f"{package}.exported")
    except ModuleNotFoundError as missing:
        if missing.name != f"{package}.exported":
            raise
        raise InputError(
            f"{type(task).__qualname__} has no whole-model export ({package}.exported): "
            "export its network with --network_only=true"
        ) from None
    return module.whole_model(task, input_size)


CONFIG_MODE = (
    "Either network flags for a fresh network (--task, --preset, --width, ..., --head, --num_classes), "
    "a checkpoint (--ckpt_path=run.ckpt), or a fit config: --config FILE [fit flags] "
    "[--input_size=] [--opset=] [--output=] [--network_only=]."
)


def check_output(output: Path) -> None:
    """The model file can be written: not a folder, in a folder that exists or can be made and written."""
    if output.is_dir():
        raise InputError(f"--output={output} is a folder: name the .onnx file to write")
    writable_folder("--output", output.parent)


def parser(task: str | None = None) -> ArgumentParser:
    """The command's flags; with a `task`, also the flags naming a fresh network of it."""
    p = ArgumentParser(prog="hrnet-lit export", description=f"{__doc__}\n\n{CONFIG_MODE}")
    if task is not None:
        add_network_arguments(p, task)
    p.add_argument("--ckpt_path", type=Path | None, default=None, help="a checkpoint of `hrnet-lit fit`")
    p.add_argument(
        "--input_size",
        type=tuple[int, int],
        default=(512, 512),
        help="H, W of the example traced through (pose, landmarks: the crop size, which sizes DARK's blur)",
    )
    p.add_argument(
        "--opset",
        type=int | None,
        default=None,
        help=f"ONNX opset (unset: {TORCHSCRIPT_OPSET} for the whole model, else the exporter's default)",
    )
    p.add_argument("--output", type=Path, default=Path("hrnet.onnx"), help="where to write the model")
    p.add_argument(
        "--network_only",
        type=bool,
        default=False,
        help="export the network alone (normalised float in, raw outputs; a detector's dense part), "
        "not the task's whole inference (uint8 RGB in, the task's results)",
    )
    return p


def trained_task(ckpt_path: Path | None, fit_args: list[str]) -> nn.Module:
    """The task (LightningModule) of a checkpoint, or of a fit config (`--config` + flags) when none."""
    from hrnet_lit.cli.app import lightning_cli
    from hrnet_lit.cli.checkpoint import model_hparams
    from hrnet_lit.cli.task_choice import import_class
    from hrnet_lit.common.checkpoint_file import read_checkpoint
    from hrnet_lit.registry import DEFAULT_TASK

    if ckpt_path is not None:
        # an InputError naming the file unless it is a safe fit checkpoint
        class_path = model_hparams(read_checkpoint(ckpt_path))[0] or DEFAULT_TASK
        task = import_class(class_path)
        return task.load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True)
    on_cpu = [
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        "--trainer.strategy=auto",
        "--trainer.logger=false",
    ]
    return lightning_cli([*fit_args, *on_cpu], run=False).model


def fresh_task(network: NetworkArgs) -> nn.Module:
    """The named task with the network those flags describe (random weights) and its defaults."""
    from hrnet_lit.cli.task_choice import import_class
    from hrnet_lit.registry import TASKS

    return import_class(TASKS[network.task])(**network.arguments())


def to_export(task: nn.Module, network_only: bool, input_size: tuple[int, int]) -> nn.Module:
    """What `export` writes of `task`: its whole inference, or its network (a two-stage detector's
    dense part, which it names on stderr)."""
    if not network_only:
        return whole_model(task, input_size)
    model: Any = task.net
    if hasattr(model, "onnx_part"):  # a network that ONNX covers in part (a two-stage detector) says which
        model, note = model.onnx_part()
        print(note, file=sys.stderr)
    return model


def main(argv: list[str] | None = None) -> None:
    """`export [network flags]` for a fresh network, or `export --config fit.yaml [fit flags]` /
    `export --ckpt_path=run.ckpt` for a trained one; with `--config`, only `--ckpt_path=`,
    `--input_size=`, `--opset=`, `--output=` and `--network_only=` are export flags, the rest go to
    the fit parser."""
    argv = sys.argv[2:] if argv is None else argv
    if uses_fit_config(argv, also=("--ckpt_path=",)):
        own_flags = ("--ckpt_path=", "--input_size=", "--opset=", "--output=", "--network_only=")
        own, fit_args = split_own_flags(argv, own_flags)
        args = parser().parse_args(own)
        check_input_size(args.input_size)
        check_output(args.output)
        task = trained_task(args.ckpt_path, fit_args)
    else:
        args = parser(named_task(argv)).parse_args(argv)
        check_input_size(args.input_size)
        check_output(args.output)
        network = NetworkArgs.from_namespace(args)
        network.arguments()  # an InputError for a head the task has not, before building anything
        task = fresh_task(network)
    size = tuple(args.input_size)
    print(export_onnx(to_export(task, args.network_only, size), args.output, size, args.opset))
