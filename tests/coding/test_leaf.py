"""flowlab.coding is a leaf: it imports numpy, torch, constriction, the standard library and flowlab's input
checks (``flowlab.validate``, layer 0) only."""
import ast
import sys
from pathlib import Path

import flowlab.coding

ALLOWED = {"numpy", "torch", "constriction", "__future__"}


def test_coding_imports_no_other_flowlab_layer():
    for path in Path(flowlab.coding.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = (top in ALLOWED or top in sys.stdlib_module_names
                      or name == "flowlab.validate"
                      or name == "flowlab.coding" or name.startswith("flowlab.coding."))
                assert ok, f"{path.name} imports {name}"
