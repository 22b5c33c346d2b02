"""The package's layers: every import between optimizer's modules goes down the layers, never up or
sideways, and no modules import each other in a circle (function-local imports count too).

    cli                                  the command line
    whatif, loop                         what-ifs; the weekly loop after a plan is sent
    plan                                 the optimize workflow
    reporting, scoring                   what a plan says; scores from data
    scenario                             the scenario file and its data → the array Problem
    solve                                the solver
    store                                files on disk: tables, run folders, the contact history
    errors                               the error family every layer raises
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "optimizer"
LAYERS = {
    "errors": 0, "store": 1, "solve": 2, "scenario": 3, "reporting": 4, "scoring": 4, "plan": 5,
    "whatif": 6, "loop": 6, "cli": 7,
}


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, package: Path) -> Iterator[tuple[str, int]]:
    """(module imported, line) for every import of one of the package's modules in ``path``, local ones too."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package.name:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                yield (candidate if _is_module(candidate, package) else node.module), node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == package.name:
                    yield alias.name, node.lineno


def _is_module(name: str, package: Path) -> bool:
    path = package.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer(module: str) -> str:
    """The layer of a module: its sub-package, or 'errors' (the package itself sits above everything)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "api"


def edges(package: Path) -> dict[str, set[tuple[str, int]]]:
    graph: dict[str, set[tuple[str, int]]] = {}
    for path in sorted(package.rglob("*.py")):
        name = module_name(path, package)
        graph[name] = {(target, line) for target, line in imported(path, package) if target != name}
    return graph


def wrong_imports(package: Path) -> list[str]:
    """Each import that goes up the layers or sideways between two of them, as 'module:line ...'."""
    wrong = []
    for module, targets in edges(package).items():
        if layer(module) == "api":
            continue
        for target, line in targets:
            source_layer, target_layer = layer(module), layer(target)
            if target_layer == "api":
                wrong.append(f"{module}:{line} imports the package's API ({target})")
            elif source_layer != target_layer and LAYERS[target_layer] >= LAYERS[source_layer]:
                wrong.append(f"{module}:{line} ({source_layer}) imports {target} ({target_layer})")
    return sorted(wrong)


def circles(package: Path) -> list[list[str]]:
    """The groups of modules that import each other in a circle."""
    graph = {module: {target for target, _ in targets} for module, targets in edges(package).items()}
    return [component for component in _strongly_connected(graph) if len(component) > 1]


def test_every_module_has_a_layer() -> None:
    layers = {layer(module) for module in edges(PACKAGE)}
    assert layers - {"api"} <= set(LAYERS), f"modules outside the known layers: {sorted(layers - set(LAYERS))}"


def test_imports_go_down_the_layers() -> None:
    wrong = wrong_imports(PACKAGE)
    assert not wrong, "imports that do not go down the layers:\n" + "\n".join(wrong)


def test_no_import_circles() -> None:
    assert not circles(PACKAGE), f"modules importing each other in a circle: {circles(PACKAGE)}"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the strongly connected components of ``graph``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checks_see_an_upward_import_and_a_circle(tmp_path: Path) -> None:
    """The checks themselves, on a small package: solve importing the plan workflow is reported as
    going up, scoring importing reporting as sideways, and the three modules that import each other as a circle."""
    package = tmp_path / "optimizer"
    files = {
        "solve/problem.py": "from optimizer.solve.exact import solve_exact\n",
        "solve/exact.py": "def solve_exact():\n    from optimizer.solve import problem\n    from optimizer.plan import workflow\n",
        "plan/workflow.py": "from optimizer.solve.exact import solve_exact\n",
        "scoring/clv.py": "import optimizer.reporting.text\n",
        "reporting/text.py": "",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    assert wrong_imports(package) == [
        "optimizer.scoring.clv:1 (scoring) imports optimizer.reporting.text (reporting)",
        "optimizer.solve.exact:3 (solve) imports optimizer.plan.workflow (plan)",
    ]
    assert circles(package) == [["optimizer.plan.workflow", "optimizer.solve.exact", "optimizer.solve.problem"]]
