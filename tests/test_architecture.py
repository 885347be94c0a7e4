"""The folder tree is the architecture: PromptLab's imports form a DAG of layers, read from the source (every import,
also those inside functions), so a shortcut that would tangle the packages fails here before it is merged.

Layers, low to high: settings, messages; prompts, data; models; scoring, runs; tuning, plots; cli, ui. A module
imports only from its own layer or below; `runs` (the run-folder store) never imports `tuning`; no engine module
imports gradio; a tab never imports another tab; and the modules the web server and the run store load stay free of
torch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from promptlab.settings import REPO_ROOT

PACKAGE = REPO_ROOT / "promptlab"
LAYERS = {"settings": 0, "messages": 0, "prompts": 1, "data": 1, "models": 2, "scoring": 3, "runs": 3, "tuning": 4,
          "plots": 4, "cli": 5, "ui": 5}
# Loaded by the web server before any model is, and by the CLI's quick commands: importing one of these must not
# import torch (seconds on a small machine), at module level.
TORCH_FREE = ("promptlab.settings", "promptlab.messages", "promptlab.prompts", "promptlab.data", "promptlab.plots",
              "promptlab.runs", "promptlab.scoring", "promptlab.models.registry", "promptlab.models.requests",
              "promptlab.models.process", "promptlab.models.shared", "promptlab.tuning.config",
              "promptlab.tuning.spec", "promptlab.tuning.run", "promptlab.cli", "promptlab.ui")
HEAVY = ("torch", "transformers", "peft", "accelerate")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, *, top_level_only: bool = False) -> set[str]:
    """Every module `name` imports (absolute names); with `top_level_only`, only those run at import time (not in
    functions, not under `if TYPE_CHECKING`)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    nodes = _top_level(tree.body) if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            # `from promptlab.runs import store` imports the module promptlab.runs.store
            found |= {f"{node.module}.{alias.name}" for alias in node.names
                      if f"{node.module}.{alias.name}" in MODULES}
    return found


def _top_level(body):
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            yield from _top_level(node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", []) +
                                  [n for h in getattr(node, "handlers", []) for n in h.body])


def internal(names: set[str]) -> set[str]:
    return {n for n in names if n in MODULES and n != "promptlab"}


def layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_the_package_is_found():
    assert len(MODULES) > 50 and "promptlab.runs.store" in MODULES and "promptlab.ui.tabs.studio" in MODULES


def test_no_import_cycles():
    graph = {name: internal(imports(name)) - {name} for name in MODULES}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                cycle = path[path.index(other):] + [other] if other in path else [name, other]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if other not in state:
                visit(other, [*path, other])
        state[name] = 2

    for name in MODULES:
        if name not in state:
            visit(name, [name])


def test_layers_only_import_downwards():
    upward = [f"{name} ({layer(name)}) imports {other} ({layer(other)})"
              for name in MODULES for other in internal(imports(name))
              if layer(name) is not None and layer(other) is not None and layer(other) > layer(name)]
    assert not upward, "\n".join(upward)


def test_runs_never_import_tuning():
    bad = [f"{n} imports {o}" for n in MODULES if n.startswith("promptlab.runs")
           for o in imports(n) if o.startswith("promptlab.tuning")]
    assert not bad, bad


def test_only_the_ui_imports_gradio():
    bad = [n for n in MODULES if not n.startswith("promptlab.ui") and
           any(o == "gradio" or o.startswith("gradio.") for o in imports(n))]
    assert not bad, bad


def test_a_tab_imports_no_other_tab():
    bad = [f"{n} imports {o}" for n in MODULES if n.startswith("promptlab.ui.tabs.")
           for o in internal(imports(n)) if o.startswith("promptlab.ui.tabs.") and o != n]
    assert not bad, bad


def test_torch_free_modules_import_no_torch_at_import_time():
    def reach(name: str, seen: set[str]) -> set[str]:
        seen.add(name)
        found = {o for o in imports(name, top_level_only=True) if o.split(".")[0] in HEAVY}
        for other in internal(imports(name, top_level_only=True)) - seen:
            found |= reach(other, seen)
        return found

    bad = {}
    for name in MODULES:
        if any(name == p or name.startswith(p + ".") for p in TORCH_FREE):
            heavy = reach(name, set())
            if heavy:
                bad[name] = sorted(heavy)
    assert not bad, bad


def test_the_checks_catch_what_they_should(tmp_path):
    """The rules above fail on a cycle, an upward import, runs -> tuning, gradio in the engine and tab -> tab."""
    fake = {"promptlab.runs.a": "from promptlab.tuning import spec\nimport gradio\n",
            "promptlab.tuning.spec": "from promptlab.runs import a\n",
            "promptlab.ui.tabs.x": "from promptlab.ui.tabs import y\n", "promptlab.ui.tabs.y": "\n"}
    paths = {}
    for name, text in fake.items():
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        paths[name] = path
    global MODULES
    saved, MODULES = MODULES, paths
    try:
        for check in (test_no_import_cycles, test_layers_only_import_downwards, test_runs_never_import_tuning,
                      test_only_the_ui_imports_gradio, test_a_tab_imports_no_other_tab):
            with pytest.raises((AssertionError, pytest.fail.Exception)):
                check()
    finally:
        MODULES = saved
