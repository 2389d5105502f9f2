"""The flags that name a network, and the `--config` mode, shared by `summary` and `export`.

Both commands describe either a fresh network (backbone knobs, `--head`, `--num_classes`) or the
network a `hrnet-lit fit --config ...` run trains; in the second mode their own flags are picked
out and everything else goes to the fit parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from jsonargparse import ArgumentParser, Namespace

from hrnet_lit.models import HRNetModel, build_model
from hrnet_lit.models.config import BackboneConfig
from hrnet_lit.models.heads import HeadName


def add_network_arguments(parser: ArgumentParser) -> None:
    """Backbone knobs (`--preset`, `--width`, ...) plus `--head` and `--num_classes`."""
    parser.add_class_arguments(BackboneConfig, as_group=True)
    parser.add_argument("--head", type=HeadName, default="v2", help="representation head")
    parser.add_argument("--num_classes", type=int, default=19, help="classes / heatmaps of the task layer")


@dataclass(frozen=True)
class NetworkArgs:
    """A network named by those flags; `build` makes it as the official repositories would."""

    backbone: BackboneConfig
    head: HeadName
    num_classes: int

    @classmethod
    def from_namespace(cls, args: Namespace) -> NetworkArgs:
        knobs = {k: args[k] for k in BackboneConfig.__dataclass_fields__}
        return cls(BackboneConfig(**knobs), args.head, args.num_classes)

    def build(self) -> HRNetModel:
        return build_model(self.head, self.num_classes, self.backbone.preset, **self.backbone.knobs())


def uses_fit_config(argv: list[str], also: tuple[str, ...] = ()) -> bool:
    """Whether `argv` names a fit config (`--config`), or one of the flags in `also`."""
    return any(a == "--config" or a.startswith(("--config=", *also)) for a in argv)


def split_own_flags(argv: list[str], own: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(the command's own `--flag=value` arguments, the rest for the fit parser)."""
    mine = [a for a in argv if a.startswith(own)]
    return mine, [a for a in argv if a not in mine]
