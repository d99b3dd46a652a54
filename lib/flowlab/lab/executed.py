"""An executed notebook as it is committed: what papermill adds and what changes on every run removed.

The committed notebook runs top to bottom with its own parameters cell (a reader who sets
``mode = "full"`` gets full mode), so papermill's injected-parameters cell goes; timestamps and
execution metadata go, execution counts run 1, 2, ... and a stream's consecutive prints are one output,
so that a re-run changes only what really changed.
"""
from __future__ import annotations

import json
from pathlib import Path

from flowlab.files import write_bytes_atomic
from flowlab.lab.params import INJECTED_TAG

__all__ = ["PROJECT_KERNEL", "merge_streams", "strip_volatile"]

# The notebooks' kernel: the project's environment, named for it (`make lab` installs the kernelspec).
PROJECT_KERNEL = {"name": "flowlab", "display_name": "flowlab (Python 3)", "language": "python"}


def merge_streams(outputs: list[dict]) -> list[dict]:
    """Consecutive prints to one stream as one output (a page shows one box per cell, not one per line
    the kernel happened to flush separately)."""
    merged: list[dict] = []
    for out in outputs:
        last = merged[-1] if merged else None
        if last is not None and out.get("output_type") == last.get("output_type") == "stream" \
                and out.get("name") == last.get("name"):
            last["text"] = "".join(last["text"]) + "".join(out["text"])
        else:
            merged.append(dict(out))
    return merged


def strip_volatile(nb_path: Path) -> None:
    """Drop papermill's injected-parameters cell and timestamps: the committed notebook runs top to
    bottom with its own parameters cell (a reader who sets ``mode = "full"`` gets full mode), and a
    re-run changes only what really changed."""
    nb = json.loads(nb_path.read_text())
    nb["cells"] = [c for c in nb["cells"]
                   if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    count = 0
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and cell.get("execution_count") is not None:
            count += 1
            cell["execution_count"] = count
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = count
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
        if "outputs" in cell:
            cell["outputs"] = merge_streams(cell["outputs"])
    nb.setdefault("metadata", {})["kernelspec"] = dict(PROJECT_KERNEL)  # what `make lab` installs
    pm = nb.get("metadata", {}).get("papermill", {})
    for key in ("start_time", "end_time", "duration", "input_path", "output_path", "environment_variables"):
        pm.pop(key, None)
    write_bytes_atomic(nb_path, (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode())
