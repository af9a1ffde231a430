"""Dependencies point one way: web and bot use triggers, which use funnels, which use the
inbox, which uses the core. A lower package importing a higher one fails here."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: A package may import packages of a lower rank only (and itself).
RANK = {"core": 0, "inbox": 1, "funnels": 2, "triggers": 3, "altegio_sync": 3, "bot": 4, "web": 5}


def imported(path: Path) -> set[str]:
    """Top-level package names ``path`` imports (absolute imports only: the project's style)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for package, rank in RANK.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:  # they name enums wherever the models keep them
                continue
            for name in imported(path) & RANK.keys() - {package}:
                if RANK[name] >= rank:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_the_check_sees_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "example.py"
    module.write_text("import os\nfrom web.app import create_app\nfrom . import sibling\n")
    assert imported(module) == {"os", "web"}
