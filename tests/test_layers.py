"""Dependencies point one way: web and bot use triggers, which use funnels, which use the
inbox, which uses the core. A lower package importing a higher one fails here, and so
does a model of a lower package with a foreign key to a model of a higher one, a
migration importing from the packages at all, or modules that import each other."""

import ast
import importlib
from collections.abc import Iterable
from pathlib import Path

from tortoise import fields
from tortoise.fields.relational import (
    ForeignKeyFieldInstance,
    ManyToManyFieldInstance,
    OneToOneFieldInstance,
)
from tortoise.models import Model

from core.db import APP_LABEL, MODEL_MODULES

ROOT = Path(__file__).resolve().parent.parent
#: A package may import packages of a lower rank only (and itself).
RANK = {"core": 0, "inbox": 1, "funnels": 2, "triggers": 3, "altegio_sync": 3, "bot": 4, "web": 5}
MIGRATIONS = ROOT / "core" / "migrations"
RELATIONS = (ForeignKeyFieldInstance, OneToOneFieldInstance, ManyToManyFieldInstance)


def imported(path: Path) -> set[str]:
    """Top-level package names ``path`` imports (absolute imports only: the project's style)."""
    return {name.split(".")[0] for name in imported_modules(path)}


def imported_modules(path: Path) -> set[str]:
    """Dotted names ``path`` imports; ``from a import b`` names ``a.b`` when that is a
    module of ours, else ``a``. Imports under ``if TYPE_CHECKING`` count too."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                names.add(sub if _module_path(sub) is not None else node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _module_path(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _modules() -> dict[str, Path]:
    """Every product module (migrations apart: they are files, never imported by name)."""
    found = {}
    for package in RANK:
        for path in sorted((ROOT / package).rglob("*.py")):
            if MIGRATIONS not in path.parents:
                parts = path.relative_to(ROOT).with_suffix("").parts
                found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for package, rank in RANK.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in imported(path) & RANK.keys() - {package}:
                if RANK[name] >= rank:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_migrations_import_nothing_of_ours() -> None:
    """A migration is history: an enum it imported and later renamed would rewrite it."""
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted(MIGRATIONS.glob("*.py"))
        for name in sorted(imported(path) & RANK.keys())
    ]
    assert wrong == []


def test_the_check_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "example.py"
    module.write_text("import os\nfrom web.app import create_app\nfrom . import sibling\n")
    assert imported(module) == {"os", "web"}


def upward_references(models: Iterable[type[Model]]) -> list[str]:
    """Relations (FK, one-to-one, many-to-many) declared by a model of a lower package
    to a model of a higher one, read from the models' tortoise metadata."""
    by_name = {f"{APP_LABEL}.{model.__name__}": model for model in _app_models()}
    models = list(models)
    by_name.update({f"{APP_LABEL}.{model.__name__}": model for model in models})
    wrong = []
    for model in models:
        package = model.__module__.split(".")[0]
        for name, field in model._meta.fields_map.items():
            if not isinstance(field, RELATIONS):
                continue
            target = by_name[field.model_name]
            if RANK[target.__module__.split(".")[0]] > RANK[package]:
                wrong.append(
                    f"{model.__module__}.{model.__name__}.{name} -> "
                    f"{target.__module__}.{target.__name__}"
                )
    return wrong


def _app_models() -> list[type[Model]]:
    """The models of the app, as ``core.db`` registers them (module by module)."""
    found = []
    for module_name in MODEL_MODULES:
        module = importlib.import_module(module_name)
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Model)
            and value.__module__ == module_name
        ]
    return found


def test_foreign_keys_point_down_the_layers() -> None:
    assert upward_references(_app_models()) == []


def test_the_check_sees_a_wrong_foreign_key() -> None:
    class Misplaced(Model):
        __module__ = "inbox.misplaced"
        deal: fields.ForeignKeyRelation = fields.ForeignKeyField(
            "funnelbox.Deal", related_name=False, on_delete=fields.CASCADE
        )
        contact: fields.ForeignKeyRelation = fields.ForeignKeyField(
            "funnelbox.Contact", related_name=False, on_delete=fields.CASCADE
        )

    assert upward_references([Misplaced]) == [
        "inbox.misplaced.Misplaced.deal -> funnels.models.Deal"
    ]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or round a circle (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1 or node in graph.get(node, ()):
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_round_a_circle() -> None:
    modules = _modules()
    graph = {name: imported_modules(path) & modules.keys() for name, path in modules.items()}
    assert cycles(graph) == []


def test_the_check_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"], ["e"]]
