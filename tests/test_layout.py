"""The package's layout: imports flow one way down the pipeline.

Every folder of ``ci_tools`` is a stage and has a layer; a module imports
modules of its own layer or of lower ones, never of a higher one, whether
at the top of the file or inside a function.  The order is the pipeline's:

    errors, output -> util -> config -> build -> boot -> host -> results
    -> bench -> compare -> history -> report -> github -> gate -> cli, sessions

``results`` sits below ``bench`` because a run writes its result through
the typed model that ``compare`` and ``report`` read; ``history`` (main's
stored runs, their series and change points) reads results as ``compare``
does and is drawn by ``report``; ``host`` (provisioning
and doctor) installs and checks what build and boot need.  On top of that,
no module imports another in a loop, imports inside functions live only in
the command line (whose handlers import what they call when they run), and
no module uses another's private names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "ci_tools"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "output"),
    ("util",),
    ("config",),
    ("build",),
    ("boot",),
    ("host",),
    ("results",),
    ("bench",),
    ("compare",),
    ("history",),
    ("report",),
    ("github",),
    ("gate",),
    ("cli", "sessions"),
    ("__main__",),
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name (a package stands for its __init__)
    line: int
    in_function: bool
    names: tuple[str, ...]  # names taken by ``from x import a, b``


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _unit(module: str) -> str:
    """The folder or top-level module of ``ci_tools`` a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module, self.is_package = module, is_package
        self.depth = 0
        self.found: list[Import] = []

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, imported: str, line: int, names: tuple[str, ...] = ()) -> None:
        if imported == "ci_tools" or imported.startswith("ci_tools."):
            self.found.append(Import(self.module, imported, line, self.depth > 0, names))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.module if self.is_package else self.module.rsplit(".", 1)[0]
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in MODULES:  # ``from ci_tools.util import proc``
                self._add(submodule, node.lineno)
            else:
                self._add(base, node.lineno, (alias.name,))


def _imports() -> Iterator[Import]:
    for module, path in MODULES.items():
        collector = _Collector(module, path.name == "__init__.py")
        collector.visit(ast.parse(path.read_text(), str(path)))
        yield from collector.found


IMPORTS = list(_imports())


def _where(i: Import) -> str:
    return f"{MODULES[i.importer].relative_to(REPO)}:{i.line}"


def test_every_folder_and_module_has_a_layer() -> None:
    units = {_unit(m) for m in MODULES}
    assert units - set(RANK) == set(), "add the new folder to LAYERS, at its stage"
    assert set(RANK) - units == set(), "LAYERS names a folder that is gone"


def test_imports_flow_one_way() -> None:
    upward = [
        f"{_where(i)}: {i.importer} imports {i.imported} ({_unit(i.imported)} is a later stage)"
        for i in IMPORTS
        if RANK[_unit(i.imported)] > RANK[_unit(i.importer)]
    ]
    assert upward == [], "imports against the pipeline:\n" + "\n".join(upward)


def test_no_module_imports_another_in_a_loop() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in IMPORTS:
        if i.imported != i.importer:
            graph[i.importer].add(i.imported)
    loops = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                loops.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert loops == [], "import cycles:\n" + "\n".join(loops)


def test_imports_inside_functions_only_in_the_command_line() -> None:
    hidden = [
        f"{_where(i)}: {i.importer} imports {i.imported} inside a function"
        for i in IMPORTS
        if i.in_function and _unit(i.importer) != "cli"
    ]
    assert hidden == [], "\n".join(hidden)


def test_no_module_uses_another_modules_private_names() -> None:
    reaching = [
        f"{_where(i)}: {i.importer} imports {name} from {i.imported}"
        for i in IMPORTS
        for name in i.names
        if name.startswith("_") and not name.startswith("__")
    ]
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        bound = {  # local names of imported ci_tools modules
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ci_tools")
            for alias in node.names
            if f"{node.module}.{alias.name}" in MODULES
        }
        reaching += [
            f"{path.relative_to(REPO)}:{node.lineno}: {module} uses {node.value.id}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ]
    assert reaching == [], "\n".join(reaching)


def test_the_layers_are_the_folders_the_readme_draws() -> None:
    development = (REPO / "README.md").read_text().split("## Development", 1)[1]
    drawn = [line.split()[0].rstrip("/") for line in development.splitlines() if "/ " in line]
    folders = [p.name for p in sorted(PACKAGE.iterdir()) if (p / "__init__.py").is_file()]
    assert set(folders) <= set(drawn), f"draw every folder of ci_tools: {folders}"
