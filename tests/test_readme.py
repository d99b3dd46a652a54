"""The README stays true: its status table names every notebook with its claims, its layout names every
library package and the folders the pipeline writes, and it makes no claim the repository contradicts."""
import json
import re
import sys
from pathlib import Path

from flowlab.lab import manifest, registry, tables

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _block(start, end):
    assert start in README and end in README, f"README lost its {start} ... {end} block"
    return README.split(start, 1)[1].split(end, 1)[0].strip()


def test_status_table_is_the_generated_one_and_lists_every_notebook():
    shown = _block(tables.STATUS_START, tables.STATUS_END)
    assert shown == tables.status_table(ROOT), "README status table is stale: run `make reproduce`"
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        row = next((ln for ln in shown.splitlines() if f"[{path.stem}]" in ln), None)
        assert row, f"{path.stem} is missing from the README status table"
        assert all(c.id in row for c in registry.claims_for(path.stem)[:1]), row


def test_layout_names_every_package_and_output_folder():
    layout = README.split("## Layout", 1)[1].split("## ", 1)[0]
    packages = [p.name for p in (ROOT / "lib" / "flowlab").iterdir() if (p / "__init__.py").is_file()]
    missing = [p for p in packages if not re.search(rf"\b{p}/", layout)]
    assert not missing, f"README layout omits {missing}"
    for folder in ("notebooks/", "results/", "figures/"):
        if (ROOT / folder / "full").is_dir():
            entry = re.search(rf"^{folder}.*(\n {{5,}}.*)*", layout, re.M)  # the entry and its continuation lines
            assert entry and "full/" in entry.group(0), f"README layout omits {folder}full/"


def test_full_mode_pins_are_described_as_they_are():
    pinned_full = [c.id for c in manifest.CLAIMS if "full" in c.pinned]
    assert "none is pinned for `full`" not in README
    for cid in pinned_full:
        assert cid in README.split("## Status", 1)[1].split("## ", 1)[0], f"{cid}'s full-mode pin is not in the Status"
    assert "not written yet" not in README


def test_benchmark_table_is_the_one_generated_from_the_committed_results():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import readme as bench_readme

    bench = json.loads((ROOT / "results" / "bench.json").read_text())
    shown = _block(bench_readme.START, bench_readme.END)
    assert shown == bench_readme.table(bench), "README benchmark table is stale: run `make bench`"
    assert bench_readme.target("glow train step", "normflows") == 0.67
    assert bench_readme.target("FFJORD train step, exact, adjoint", "zuko") == 1.0
    assert bench_readme.target("maf log_prob", "zuko") == 0.8
