"""Provenance of a results file: mode, seed, device, threads, CPU, versions, the commit and the library digest.

The commit says which code produced a result: the last commit that changed the library itself
(``lib/``, ``pyproject.toml``), marked ``-dirty`` only when the library differs from it, not when the
run's own outputs do. The
library digest (a hash of every library source the notebooks import) identifies the code exactly,
committed or not.

:func:`imported_modules` and :func:`modules_digest` say which library sources one notebook actually
runs (its imports, followed through the library by static parsing): the driver stamps a notebook with
those, so that a change elsewhere in the library does not make it out of date.
"""
from __future__ import annotations

import ast
import hashlib
import os
import platform
import subprocess
from pathlib import Path

import numpy as np

from flowlab.files import repo_root

# The driver, its tables and the book builder run outside the notebooks' kernels: changing them
# changes no result.
DRIVER_MODULES = {"reproduce.py", "tables.py", "book.py", "calibrate.py"}


def library_digest(root: Path | None = None) -> str:
    root = root or repo_root()
    h = hashlib.sha256()
    for path in sorted((root / "lib" / "flowlab").rglob("*.py")):
        if path.parent.name == "lab" and path.name in DRIVER_MODULES:
            continue
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


LIBRARY = "flowlab"


def _is_library(module: str | None) -> bool:
    return bool(module) and (module == LIBRARY or module.startswith(LIBRARY + "."))


def module_file(root: Path, module: str) -> Path | None:
    """The source of a dotted ``flowlab`` module under ``root/lib``: ``x/y.py`` or ``x/y/__init__.py``."""
    base = root / "lib" / Path(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _with_parents(module: str) -> list[str]:
    """``flowlab.a.b`` and the packages importing it runs first: ``flowlab``, ``flowlab.a``."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _imports(tree: ast.AST, module: str = "", is_package: bool = False) -> tuple[set[str], set[str]]:
    """(modules certainly imported, names that are modules only if such a file exists) by the
    import statements anywhere in ``tree`` (inside functions too), for code of ``module``."""
    sure, maybe = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_library(alias.name):
                    sure.update(_with_parents(alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = ".".join(p for p in (package, node.module) if p)
            if _is_library(base):
                sure.update(_with_parents(base))
                maybe.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return sure, maybe


def _parse(source: str) -> ast.AST | None:
    """Parse notebook or module code; IPython's ``%magic`` and ``!shell`` lines count as no code."""
    lines = [line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip()[:1] in ("%", "!") else line
             for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def imported_modules(root: Path, sources: list[str]) -> list[str]:
    """Every ``flowlab`` module that running ``sources`` (a notebook's code cells) imports, transitively,
    sorted. Code that does not parse depends, for all we can tell, on the whole library."""
    sure, maybe = set(), set()
    for source in sources:
        tree = _parse(source)
        if tree is None:
            return sorted(_all_modules(root))
        found = _imports(tree)
        sure |= found[0]
        maybe |= found[1]
    todo = sure | {m for m in maybe if module_file(root, m)}
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        seen.add(module)
        path = module_file(root, module)
        if path is None:
            continue
        found_sure, found_maybe = _module_imports(module, path.name == "__init__.py", path.read_bytes())
        todo |= (found_sure | {m for m in found_maybe if module_file(root, m)}) - seen
    return sorted(seen)


_PARSED: dict[tuple[str, bool, bytes], tuple[set[str], set[str]]] = {}


def _module_imports(module: str, is_package: bool, source: bytes) -> tuple[set[str], set[str]]:
    """:func:`_imports` of one module's source, parsed once per content (the driver asks for every
    notebook); a module that does not parse imports nothing we can see (it fails when run anyway)."""
    key = (module, is_package, hashlib.sha256(source).digest())
    if key not in _PARSED:
        tree = _parse(source.decode("utf-8"))
        _PARSED[key] = _imports(tree, module, is_package) if tree is not None else (set(), set())
    return _PARSED[key]


def _all_modules(root: Path) -> set[str]:
    lib = root / "lib"
    return {".".join(p.relative_to(lib).with_suffix("").parts[: -1 if p.name == "__init__.py" else None])
            for p in (lib / LIBRARY).rglob("*.py")}


def modules_digest(root: Path, modules: list[str]) -> dict[str, str | None]:
    """``{module: sha256 of its source}`` (None when it has no file); the driver modules are left out
    (they run in no kernel). Line endings are normalized: a checkout on any machine hashes the same."""
    out = {}
    for module in sorted(modules):
        path = module_file(root, module)
        if path is not None and path.parent.name == "lab" and path.name in DRIVER_MODULES:
            continue
        out[module] = (hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()
                       if path is not None else None)
    return out


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict:
    """The CPU the numbers were computed on: its model (``/proc/cpuinfo``, else what ``platform``
    says), and the SIMD level torch's kernels use, which moves float results in the last bits
    (``ATEN_CPU_CAPABILITY`` recorded too when set, since it forces that level)."""
    import torch

    model = None
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"model": model or platform.processor() or None,
            "torch_capability": torch.backends.cpu.get_cpu_capability()}
    if os.environ.get("ATEN_CPU_CAPABILITY"):
        info["aten_cpu_capability"] = os.environ["ATEN_CPU_CAPABILITY"]
    return info


def git_commit() -> str:
    """The last commit that changed the library (``lib/``, ``pyproject.toml``), with ``-dirty`` when the
    library differs from it: commits of notebooks or results alone leave a re-run's results unchanged."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True, timeout=10)

    try:
        head = git("log", "-1", "--format=%h", "--abbrev=10", "--", "lib", "pyproject.toml").stdout.strip()
        if not head:
            return "unknown"
        dirty = git("status", "--porcelain", "--", "lib", "pyproject.toml").stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def code_identity() -> tuple[str, str]:
    """The commit and library digest as this process found them when it first asked: a notebook's
    results describe the code its kernel imported, even if the files change during a long run."""
    global _START
    if _START is None:
        _START = (os.environ.get("FLOWLAB_GIT_COMMIT") or git_commit(), library_digest())
    return _START


_START: tuple[str, str] | None = None


def provenance(mode: str, seed: int, device: str) -> dict:
    import torch

    import flowlab

    versions = {"python": platform.python_version(), "flowlab": flowlab.__version__,
                "torch": torch.__version__, "numpy": np.__version__}
    for name in ("torchdiffeq", "scipy", "sklearn"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    return {"mode": mode, "seed": seed, "device": device, "threads": torch.get_num_threads(), "cpu": cpu_info(),
            "versions": versions, "git_commit": code_identity()[0], "library_digest": code_identity()[1]}
