"""`hrnet-lit export`: a network to ONNX, with dynamic batch and spatial size."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from jsonargparse import ArgumentParser
from torch import nn

from hrnet_lit.common.atomic import atomic_path, writable_folder
from hrnet_lit.errors import InputError
from hrnet_lit.tools.network_args import (
    NetworkArgs,
    add_network_arguments,
    check_input_size,
    named_task,
    split_own_flags,
    uses_fit_config,
)


def export_onnx(
    model: nn.Module, output: str | Path, input_size: tuple[int, int] = (512, 512), opset: int | None = None
) -> Path:
    """Write `model` (in eval mode) as ONNX to `output` and return its path.

    Batch, height and width stay dynamic (`input_size` only shapes the example traced through);
    a head that returns a list (V2p) gives one output per level. The file appears atomically,
    so a failed export never leaves a truncated model behind.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(2, 3, *input_size, device=next(model.parameters()).device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = model(example)
        count = len(outputs) if isinstance(outputs, list | tuple) else 1
        dims = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
        with atomic_path(output) as tmp:
            torch.onnx.export(
                model,
                (example,),
                tmp,
                input_names=["image"],
                output_names=["output"] if count == 1 else [f"output{k}" for k in range(count)],
                opset_version=opset,
                dynamic_shapes=(dims,),
                external_data=False,
            )
    finally:
        model.train(was_training)
    return output


CONFIG_MODE = (
    "Either network flags for a fresh network (--task, --preset, --width, ..., --head, --num_classes), "
    "a checkpoint (--ckpt_path=run.ckpt), or the network of a fit config: --config FILE [fit flags] "
    "[--input_size=] [--opset=] [--output=]."
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
    p.add_argument("--input_size", type=tuple[int, int], default=(512, 512), help="H, W of the example")
    p.add_argument("--opset", type=int | None, default=None, help="ONNX opset (exporter default if unset)")
    p.add_argument("--output", type=Path, default=Path("hrnet.onnx"), help="where to write the model")
    return p


def trained_network(ckpt_path: Path | None, fit_args: list[str]) -> nn.Module:
    """The network (`.net`) of a checkpoint's task, or of a fit config (`--config` + flags) when none.

    It computes what the task's network computes (segmentation: class logits at 1/4 of the image).
    """
    from hrnet_lit.cli.app import lightning_cli
    from hrnet_lit.cli.checkpoint import model_hparams
    from hrnet_lit.cli.task_choice import import_class
    from hrnet_lit.common.checkpoint_file import read_checkpoint
    from hrnet_lit.registry import DEFAULT_TASK

    if ckpt_path is not None:
        # an InputError naming the file unless it is a safe fit checkpoint
        class_path = model_hparams(read_checkpoint(ckpt_path))[0] or DEFAULT_TASK
        task = import_class(class_path)
        return task.load_from_checkpoint(ckpt_path, map_location="cpu", weights_only=True).net
    on_cpu = [
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        "--trainer.strategy=auto",
        "--trainer.logger=false",
    ]
    return lightning_cli([*fit_args, *on_cpu], run=False).model.net


def main(argv: list[str] | None = None) -> None:
    """`export [network flags]` for a fresh network, or `export --config fit.yaml [fit flags]` /
    `export --ckpt_path=run.ckpt` for a trained one; with `--config`, only `--ckpt_path=`,
    `--input_size=`, `--opset=` and `--output=` are export flags, the rest go to the fit parser."""
    argv = sys.argv[2:] if argv is None else argv
    if uses_fit_config(argv, also=("--ckpt_path=",)):
        own, fit_args = split_own_flags(argv, ("--ckpt_path=", "--input_size=", "--opset=", "--output="))
        args = parser().parse_args(own)
        check_input_size(args.input_size)
        check_output(args.output)
        model = trained_network(args.ckpt_path, fit_args)
    else:
        args = parser(named_task(argv)).parse_args(argv)
        check_input_size(args.input_size)
        check_output(args.output)
        model = NetworkArgs.from_namespace(args).build()
    if hasattr(model, "onnx_part"):  # a network that ONNX covers in part (a two-stage detector) says which
        model, note = model.onnx_part()
        print(note, file=sys.stderr)
    print(export_onnx(model, args.output, tuple(args.input_size), args.opset))
