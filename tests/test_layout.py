"""The package's folders are layers in pipeline order, and imports only point down: a lower layer never imports a
higher one (at module level or inside a function), so data knows nothing of models, models nothing of decoding,
and nothing but the command line knows the command line."""

import ast
from pathlib import Path

import pytest

from conftest import REPO

PACKAGE = REPO / "translator"
# lowest first; a module may import its own layer's and lower layers' modules
LAYERS = [
    {"errors", "files", "config", "pretrained"},  # what every part shares
    {"entities"},  # what a name and a number are
    {"data"},  # corpora and text
    {"model"},  # the network, its folder
    {"decoding"},  # search and translation
    {"evaluation", "startup"},  # scoring; a process's fast start
    {"training"},  # a run ends by choosing its search on dev and carrying its graph
    {"comparison", "inspection", "serve"},
    {"cli", "__main__"},
]
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def part_of(module: str) -> str:
    """translator.data.corpus -> data; translator.errors -> errors."""
    return module.split(".")[1]


def imported_parts(path: Path):
    """(line, part of the package) of every import of a translator module in the file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("translator."):
            yield node.lineno, part_of(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module == "translator":
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("translator."):
                    yield node.lineno, part_of(alias.name)


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_part_of_the_package_has_a_layer():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert parts - set(LAYER_OF) == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = [f"line {line}: {part}" for line, part in imported_parts(path)
              if part in LAYER_OF and LAYER_OF[part] > LAYER_OF[own]]
    assert upward == [], f"{path.relative_to(REPO)} ({own}) imports a higher layer"


def test_the_layer_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from translator.cli.common import load_translator\n")
    assert list(imported_parts(module)) == [(2, "cli")]


def test_no_module_outside_the_command_line_is_much_over_300_lines():
    long = {str(p.relative_to(REPO)): n for p in MODULES if "cli" not in p.parts
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > 340}
    assert long == {}
