"""The private Lightning / jsonargparse / torch names that hrnet-lit relies on still exist as it uses them,
and none is used outside `hrnet_lit.compat`: an upgrade that breaks one fails here, not in a user's
resume."""

from __future__ import annotations

import abc
import ast
import contextlib
import importlib
import inspect
import pkgutil
import textwrap
import typing
from pathlib import Path

import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

import hrnet_lit
from hrnet_lit import compat
from hrnet_lit.cli.app import HRNetCLI
from hrnet_lit.compat import OVERRIDDEN, PRIVATE_NAMES, PrivateName

PACKAGE = Path(hrnet_lit.__file__).parent
COMPAT = PACKAGE / "compat.py"
LISTED = {entry.name for entry in PRIVATE_NAMES}


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


class _Abstract(abc.ABC):
    @abc.abstractmethod
    def method(self) -> None: ...


class _Protocol(typing.Protocol):
    pass


# What Python's ABC and Protocol machinery gives every subclass (`_abc_impl`, `_is_protocol`, ...).
PYTHON_MADE = {name for cls in (_Abstract, _Protocol) for name in vars(cls) if is_private(name)}


def owner_of(entry: PrivateName) -> object:
    module, _, cls = entry.owner.partition(":")
    found = importlib.import_module(module)
    return getattr(found, cls) if cls else found


def assigned_attributes(source: str) -> set[str]:
    """The names `<object>.name = ...` (or `+=`, or annotated) assigns in `source`."""
    targets = []
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Assign):
            targets += node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets.append(node.target)
    flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
    return {t.attr for t in flat if isinstance(t, ast.Attribute)}


@pytest.mark.parametrize("entry", PRIVATE_NAMES, ids=lambda e: f"{e.owner}.{e.name}")
def test_each_private_name_exists_as_used(entry: PrivateName) -> None:
    owner = owner_of(entry)
    if entry.kind == "attribute":
        assert isinstance(owner, type)
        assert entry.name in assigned_attributes(inspect.getsource(owner)), f"{entry} is no longer assigned"
        return
    found = inspect.getattr_static(owner, entry.name)
    if entry.kind == "class":
        assert isinstance(found, type)
        return
    assert entry.kind in ("function", "method", "override"), entry
    assert inspect.isfunction(found), f"{entry} is {found!r}, not a function"
    assert tuple(inspect.signature(found).parameters) == entry.params


def test_listed_overrides_are_the_ones_hrnet_cli_makes() -> None:
    made = {name for name in vars(HRNetCLI) if is_private(name) and name in dir(HRNetCLI.__mro__[1])}
    assert made == {entry.name for entry in OVERRIDDEN}
    for entry in OVERRIDDEN:
        ours = tuple(inspect.signature(vars(HRNetCLI)[entry.name]).parameters)
        assert ours == entry.params, f"HRNetCLI.{entry.name} no longer has Lightning's signature"


def test_compat_functions_work_on_the_installed_objects(tmp_path: Path) -> None:
    trainer = Trainer(
        default_root_dir=tmp_path, logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    callback = next(c for c in trainer.callbacks if isinstance(c, ModelCheckpoint))
    assert compat.sigterm_received(trainer) is False
    compat.set_sigterm_received(trainer, True)
    assert compat.sigterm_received(trainer) is True
    assert compat.last_global_step_saved(callback) == 0
    assert isinstance(compat.saves_on_train_epoch_end(callback, trainer), bool)
    assert {"epoch", "step"} <= set(compat.monitor_candidates(callback, trainer))
    assert compat.is_local_path(str(tmp_path / "a.ckpt")) and not compat.is_local_path("s3://bucket/a.ckpt")
    assert compat.error_parser(None) is None
    assert all(issubclass(norm, compat.BatchNorm) for norm in (nn.BatchNorm2d, nn.SyncBatchNorm))


def private_uses(path: Path, tree: ast.AST, own: set[str]) -> list[str]:
    """`path:line name` for each private name of a library that `tree` uses."""
    overridden = {entry.name for entry in OVERRIDDEN}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and not node.module.startswith("hrnet_lit"):
            names = [n for n in [*node.module.split("."), *(a.name for a in node.names)] if is_private(n)]
        elif isinstance(node, ast.Import):
            names = [n for a in node.names for n in a.name.split(".") if is_private(n)]
        elif isinstance(node, ast.Attribute) and is_private(node.attr) and node.attr not in own:
            via_super = isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "super"
            names = [] if via_super and node.attr in overridden else [node.attr]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("getattr", "hasattr", "setattr"):
            key = node.args[1] if len(node.args) > 1 else None
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and is_private(key.value):
                names = [] if key.value in own else [key.value]
        found += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}" for name in names]
    return found


def test_no_private_library_name_outside_compat() -> None:
    trees = {path: ast.parse(path.read_text()) for path in sorted(PACKAGE.rglob("*.py")) if path != COMPAT}
    own = set()  # the private names hrnet-lit defines itself (a listed override is Lightning's)
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                own.add(node.name)
        own |= assigned_attributes(ast.unparse(tree))
        own |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    own = {name for name in own if is_private(name)} - LISTED
    used = [use for path, tree in trees.items() for use in private_uses(path, tree, own)]
    assert used == [], "use these through hrnet_lit.compat (and list them there)"


def library_private_names(cls: type) -> set[str]:
    """The private names of `cls`'s library bases: their methods and class attributes, and the
    attributes their code assigns."""
    names = set()
    for base in cls.__mro__[1:]:
        if base.__module__.startswith("hrnet_lit") or base is object:
            continue
        names |= set(vars(base))
        with contextlib.suppress(OSError, TypeError):  # defined in C: only its `vars` are known
            names |= assigned_attributes(inspect.getsource(base))
    return {name for name in names if is_private(name)}


def test_no_hrnet_lit_class_reuses_a_library_private_name() -> None:
    """An override of a private method must be listed in compat.OVERRIDDEN; an attribute of our own
    that a library base also uses would silently replace the library's."""
    reused = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="hrnet_lit."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if not (isinstance(cls, type) and cls.__module__ == module.__name__):
                continue
            ours = {n for n in vars(cls) if is_private(n) and n not in PYTHON_MADE} | {
                n for n in assigned_attributes(inspect.getsource(cls)) if is_private(n)
            }
            clashes = (ours & library_private_names(cls)) - {entry.name for entry in OVERRIDDEN}
            reused += [f"{cls.__module__}.{cls.__qualname__}.{name}" for name in sorted(clashes)]
    assert reused == []
