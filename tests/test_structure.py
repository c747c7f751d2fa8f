"""The package's import graph, read from the source: no module imports another module's private name, no two
modules import each other (directly or round a longer loop), counting imports inside functions, and the command
line sits on top: nothing in the library imports ``featvec.cli``, and inside it imports run one way (the parser
in ``cli/__init__`` -> the commands -> ``cli.io`` -> the library). And the shape of the code: every function
under 60 lines, every preset fitting through the one template, one epoch loop."""
from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import featvec

ROOT = Path(featvec.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(mods: dict[str, Path]):
    """(module, imported module, name) for every ``from featvec... import name`` anywhere in a module."""
    for name, f in mods.items():
        package = name if f.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "featvec":
                continue
            for alias in node.names:
                yield name, target, alias.name


def test_no_module_imports_another_modules_private_name():
    private = [(m, f"{t}.{n}") for m, t, n in _imports(_modules())
               if n.startswith("_") and not n.startswith("__") and t != m]
    assert private == []


def test_no_import_cycles_between_modules():
    mods = _modules()
    graph: dict[str, set] = {m: set() for m in mods}
    for m, t, n in _imports(mods):
        target = f"{t}.{n}" if f"{t}.{n}" in mods else t
        if target in mods and target != m and mods[target].name != "__init__.py":  # packages re-export
            graph[m].add(target)
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m):  # depth-first: a module met again while still on the path closes a loop
        state[m] = 1
        path.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def _module_edges(mods: dict[str, Path]):
    """(module, imported module) for every ``from featvec... import``, ``from pkg import submodule`` resolved."""
    for m, t, n in _imports(mods):
        yield m, (f"{t}.{n}" if f"{t}.{n}" in mods else t)


def test_the_library_does_not_import_the_command_line():
    up = sorted({(m, t) for m, t in _module_edges(_modules())
                 if (t == "featvec.cli" or t.startswith("featvec.cli.")) and not m.startswith("featvec.cli")})
    assert up == []


def test_command_line_imports_run_one_way():
    """A command imports no other command (only ``cli.io``); ``cli.io`` imports nothing of the command line."""
    wrong = []
    for m, t in _module_edges(_modules()):
        if not m.startswith("featvec.cli.") or m == "featvec.cli.__main__" or not t.startswith("featvec.cli"):
            continue
        if m == "featvec.cli.io" or t != "featvec.cli.io":
            wrong.append((m, t))
    assert sorted(set(wrong)) == []


def _functions():
    for f in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f.relative_to(ROOT.parent), node


def test_every_function_is_under_60_lines():
    long = sorted((str(f), n.name, n.end_lineno - n.lineno + 1) for f, n in _functions()
                  if n.end_lineno - n.lineno + 1 >= 60)
    assert long == []


def test_every_preset_fits_through_the_one_template():
    """Each preset's ``fit`` is its signature and docstring over ``BaseModel._fit``: one body, ``return
    self._fit(...)``; no preset defines its own ``_fit`` or its own validation split."""
    from featvec.models import base

    presets = [cls for cls in vars(featvec).values() if isinstance(cls, type) and issubclass(cls, base.BaseModel)]
    assert len(presets) == 6
    for cls in presets:
        fit = next(c.__dict__["fit"] for c in cls.__mro__ if "fit" in c.__dict__)
        tree = ast.parse(textwrap.dedent(inspect.getsource(fit)))
        body = [s for s in tree.body[0].body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        assert len(body) == 1 and isinstance(body[0], ast.Return), cls.__name__
        call = body[0].value
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "_fit"
        assert all("_fit" not in c.__dict__ for c in cls.__mro__ if c is not base.BaseModel), cls.__name__
    splits = sorted(str(f) for f, n in _functions() if "permutation" in ast.unparse(n) and n.name != "holdout"
                    and f.parts[1] == "models")
    assert splits == []


def test_one_epoch_loop():
    """The torch Trainer, the fused block engine and the fused FM all run ``training.epochs.run_epochs``."""
    users = sorted(str(f) for f, n in _functions() if any(isinstance(c, ast.Call) and getattr(c.func, "id", "")
                                                            == "run_epochs" for c in ast.walk(n)))
    assert users == ["featvec/fused/engine.py", "featvec/fused/train.py", "featvec/training/trainer.py"]
