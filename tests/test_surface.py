"""The library stays narrow and trusts itself inside: few exported names, few input guards.

Inputs are validated once, at the public boundary (constructors and entry points), as torchdiffeq
checks its inputs once in ``_check_inputs``; code inside trusts what it was given. Two numbers keep
that true, both counted here from the source alone, so ``python tests/test_surface.py`` prints them:

**Exports**: the public names of every face notebooks may import from (the subpackages and
``files.py``): what ``from flowlab.<face> import name`` finds, whatever ``__all__`` says. At most
``MAX_EXPORTS``. ``validate.py`` is the library's own (layer 0, no face: notebooks do not check inputs).

**Guard lines**, as a share of the library's code lines. A *code line* is a line of
``lib/flowlab/**.py`` that holds code: not blank, not only a comment, not part of a docstring.
A *guard line* is a code line of

- ``validate.py``, the module of input checks, all of it;
- an ``if`` (with its ``elif`` chain) whose every branch only raises an argument error
  (``ValueError``, ``TypeError``, ``KeyError``, ``IndexError``), its continuation lines included;
  of an ``if`` with a branch that does other work, only the lines of its raising branches;
- a ``raise`` of an argument error, an ``assert``, or an ``except`` clause that only raises one;
- a call of a ``check_*`` function as a statement, or an assignment whose value is such a call
  (``n = check_count(n, ...)``);
- a ``for`` loop made of nothing but guards, and a whole validator function (``def _check_channels``):
  one made of guards that returns nothing, or returns a name (what it checked), not a computation.

A check declared in a signature (``n: Count``, run by ``validate.checked``) adds no line: it is the
parameter's declaration, and its code is counted once, in ``validate.py``.

At most ``MAX_GUARD_SHARE`` of the code lines are guards: a ratchet, lowered as guards go, towards the
target of ``TARGET_GUARD_SHARE`` (8%, what torchdiffeq and zuko show; 7.9% at the last count, down from
12.8% before the contracts, named shapes (``validate.Shape``) included, moved into signatures; what remains
relates arguments to the object's state, checks a value only the body sees, or checks a file's contents).
"""
from __future__ import annotations
import __future__

import ast
import importlib
import io
import re
import tokenize
import types
from collections import Counter
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib" / "flowlab"
MAX_EXPORTS = 150
MAX_GUARD_SHARE = 0.08  # the ratchet: lower it when guards go, never raise it
TARGET_GUARD_SHARE = 0.08
ARGUMENT_ERRORS = {"ValueError", "TypeError", "KeyError", "IndexError"}


# ----------------------------------------------------------------------------------------- exports
def _own(value) -> bool:
    module = getattr(value, "__module__", None)
    return module is None or module == "builtins" or module.startswith("flowlab")


def public_names(module: str) -> list[str]:
    """What ``from <module> import name`` offers: its public attributes that are flowlab's own (defined in
    flowlab, or a constant), not modules nor what it imported from elsewhere (``Path``, ``Tensor``)."""
    face = importlib.import_module(module)
    return sorted(n for n, v in vars(face).items() if not n.startswith("_") and _own(v)
                  and not isinstance(v, (types.ModuleType, __future__._Feature)))


def exports() -> dict[str, list[str]]:
    """The faces notebooks and users import from (``tests/test_layers.py``'s FACES), with their names."""
    faces = [p.parent.name for p in sorted(LIB.glob("*/__init__.py"))] + ["files"]
    return {face: public_names(f"flowlab.{face}") for face in faces}


# ------------------------------------------------------------------------------------------ guards
def code_lines(source: str, tree: ast.Module) -> set[int]:
    """Lines holding a token other than a comment, and not inside a docstring."""
    lines = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER, tokenize.ENCODING}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines -= set(range(first.lineno, first.end_lineno + 1))
    return lines


def _span(node: ast.AST) -> set[int]:
    return set(range(node.lineno, node.end_lineno + 1))


def _raises_argument_error(node: ast.AST) -> bool:
    if not isinstance(node, ast.Raise) or node.exc is None:
        return False
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return isinstance(exc, ast.Name) and exc.id in ARGUMENT_ERRORS


def _is_check_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    fn = node.func
    name = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else ""
    return name.startswith(("check_", "_check"))


def _is_docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def is_guard(node: ast.AST) -> bool:
    """A statement that does nothing but check an input."""
    if _raises_argument_error(node) or isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Expr) and _is_check_call(node.value):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _is_check_call(node.value):
        return True
    if isinstance(node, ast.If):
        return all(is_guard(s) for s in node.body) and all(is_guard(s) for s in node.orelse)
    if isinstance(node, ast.For):
        return not node.orelse and all(is_guard(s) for s in node.body)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        # a validator: checks, then hands back what it checked (a wrapper that computes is not one)
        body = [s for s in node.body if not _is_docstring(s)]
        if body and isinstance(body[-1], ast.Return) and (
                body[-1].value is None or isinstance(body[-1].value, (ast.Name, ast.Constant, ast.Attribute))):
            body = body[:-1]
        return bool(body) and all(is_guard(s) for s in body)
    return False


def guard_lines(tree: ast.Module) -> set[int]:
    out: set[int] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if is_guard(node):
                out.update(_span(node))
                continue
            if isinstance(node, ast.If):
                # the raising branches of an `if` that also does other work
                if all(is_guard(s) for s in node.body):
                    out.update(range(node.lineno, node.body[-1].end_lineno + 1))
                else:
                    visit(node.body)
                visit(node.orelse)
                continue
            if isinstance(node, ast.Try):
                for handler in node.handlers:
                    if all(_raises_argument_error(s) for s in handler.body):
                        out.update(_span(handler))
                    else:
                        visit(handler.body)
                visit(node.body)
                visit(node.orelse)
                visit(node.finalbody)
                continue
            for field in ("body", "orelse", "finalbody"):
                visit(getattr(node, field, []) or [])

    visit(tree.body)
    return out


def guard_counts() -> dict[str, tuple[int, int]]:
    """``unit -> (guard lines, code lines)``, a unit being a subpackage or a top-level module."""
    counts: Counter = Counter()
    for path in sorted(LIB.rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        code = code_lines(source, tree)
        guards = code if path == LIB / "validate.py" else guard_lines(tree) & code
        unit = path.relative_to(LIB).parts[0]
        counts[unit, "guards"] += len(guards)
        counts[unit, "code"] += len(code)
    units = sorted({u for u, _ in counts})
    return {u: (counts[u, "guards"], counts[u, "code"]) for u in units}


# ------------------------------------------------------------------------------------------ tests
def test_the_counter_sees_guards_and_only_guards():
    source = '''
def f(x, n):
    """Doc."""
    # a comment
    if n < 1:
        raise ValueError(
            "n must be positive")
    n = check_count(n, "n", "f")
    check_tensor(x, "f")
    for s in x.shape:
        if s == 0:
            raise ValueError("empty")
    try:
        y = x.sum()
    except RuntimeError:
        raise TypeError("bad") from None
    if n > 3:
        y = y + 1
    else:
        raise KeyError(n)
    if n > 4:
        raise RuntimeError("not an argument error")
    return y


def _check_shape(x):
    if x.dim() != 2:
        raise ValueError("2-d")
    return x
'''
    tree = ast.parse(source)
    code, guards = code_lines(source, tree), guard_lines(tree)
    text = source.splitlines()
    guarded = [text[i - 1].strip() for i in sorted(guards & code)]
    assert guarded == ['if n < 1:', 'raise ValueError(', '"n must be positive")', 'n = check_count(n, "n", "f")',
                       'check_tensor(x, "f")', 'for s in x.shape:', 'if s == 0:', 'raise ValueError("empty")',
                       'except RuntimeError:', 'raise TypeError("bad") from None', 'raise KeyError(n)',
                       'def _check_shape(x):', 'if x.dim() != 2:', 'raise ValueError("2-d")', 'return x']
    assert '"""Doc."""' not in [text[i - 1].strip() for i in code]
    assert "# a comment" not in [text[i - 1].strip() for i in code]


def test_input_guards_do_not_grow_past_the_ratchet():
    counts = guard_counts()
    guards = sum(g for g, _ in counts.values())
    code = sum(c for _, c in counts.values())
    table = "\n".join(f"  {u:<14} {g:5d} / {c:5d} = {g / c:6.1%}" for u, (g, c) in counts.items())
    assert guards <= MAX_GUARD_SHARE * code, (
        f"{guards} of {code} code lines ({guards / code:.1%}) are input guards; at most "
        f"{MAX_GUARD_SHARE:.0%} may be (the target is {TARGET_GUARD_SHARE:.0%}): validate at the public boundary "
        f"and trust inside\n{table}")


def test_at_most_150_names_are_exported():
    names = exports()
    total = sum(len(v) for v in names.values())
    table = ", ".join(f"{k} {len(v)}" for k, v in names.items())
    assert total <= MAX_EXPORTS, f"{total} exported names (at most {MAX_EXPORTS}): {table}"


def test_every_face_lists_in_all_exactly_what_it_offers():
    for face in [p.parent.name for p in sorted(LIB.glob("*/__init__.py"))]:
        module = importlib.import_module(f"flowlab.{face}")
        assert sorted(module.__all__) == public_names(f"flowlab.{face}"), (
            f"flowlab.{face}.__all__ differs from what it offers: import only what the face exports")


def test_references_in_the_library_name_what_exists():
    """``flowlab.measure.CallCounter`` in a docstring must resolve: a name that left a face is cited by
    its module (``flowlab.measure.counting.CallCounter``)."""
    units = {p.stem if p.suffix else p.name for p in LIB.iterdir() if not p.name.startswith("_")}
    broken = []
    for path in sorted(LIB.rglob("*.py")):
        for dotted in set(re.findall(r"flowlab(?:\.[A-Za-z_]\w*)+", path.read_text())):
            parts = dotted.split(".")
            if parts[1] not in units:
                continue  # an example such as flowlab.a.b
            for i in range(len(parts), 1, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:i]))
                except ImportError:
                    continue
                for attr in parts[i:]:
                    obj = getattr(obj, attr, None)
                if obj is None:
                    broken.append(f"{path.relative_to(LIB)}: {dotted}")
                break
    assert not broken, "references to names that do not exist where they are cited:\n" + "\n".join(broken)


def _print_guards_of(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    text = source.splitlines()
    for i in sorted(guard_lines(tree) & code_lines(source, tree)):
        print(f"{path}:{i}: {text[i - 1]}")


if __name__ == "__main__":
    import sys
    # python tests/test_surface.py               the table and the exports
    # python tests/test_surface.py FILE...       the guard lines of those files
    if sys.argv[1:]:
        for arg in sys.argv[1:]:
            _print_guards_of(Path(arg))
        raise SystemExit
    for path in sorted(LIB.rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        code = code_lines(source, tree)
        g = len(code) if path.name == "validate.py" else len(guard_lines(tree) & code)
        if g:
            print(f"  {path.relative_to(LIB).as_posix():<34} {g:4d} / {len(code):4d}")
    counts = guard_counts()
    for unit, (g, c) in counts.items():
        print(f"{unit:<14} {g:5d} / {c:5d} = {g / c:6.1%}")
    g = sum(x for x, _ in counts.values())
    c = sum(y for _, y in counts.values())
    print(f"{'all':<14} {g:5d} / {c:5d} = {g / c:6.1%}")
    names = exports()
    print("exports:", sum(len(v) for v in names.values()), {k: len(v) for k, v in names.items()})
