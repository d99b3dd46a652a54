"""The book's pages as assembled from the repository (no Jupyter Book run: the browser test builds it)."""
import importlib
import json
import re
from pathlib import Path

import pytest

from flowlab.lab import book

ROOT = Path(__file__).resolve().parents[2]
FULL = sorted(p.stem for p in (ROOT / "results" / "full").glob("[0-9][0-9]_*.json"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mathjax", reason="pip install -e '.[book]'")
    site = tmp_path_factory.mktemp("site")
    book.assemble(ROOT, site / "src")
    return site / "src"


def test_every_notebook_is_in_the_toc_and_the_claims_page_links_every_claim(site):
    toc = (site / "_toc.yml").read_text()
    claims = (site / "claims.md").read_text()
    for nb in sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"file: notebooks/{nb}\n" in toc
    for spec in book.manifest.CLAIMS:
        assert f">{spec.id}</a>" in claims


@pytest.mark.skipif(not FULL, reason="no committed full-mode reference run")
def test_full_mode_runs_get_a_page_after_their_notebook_and_a_section_on_the_claims_page(site):
    toc = (site / "_toc.yml").read_text()
    claims = (site / "claims.md").read_text()
    assert "## Full-mode reference runs" in claims and "Run times: " in claims
    for nb in FULL:
        assert f"file: notebooks/{nb}\n      - file: notebooks/full/{nb}\n" in toc
        assert f'href="notebooks/full/{nb}.html#' in claims
        first = (site / "notebooks" / "full" / f"{nb}.ipynb").read_text()
        assert "(full mode)" in first


def test_title_suffix_goes_on_the_first_heading_only(tmp_path):
    import json
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "text **C01**"]},
                    {"cell_type": "markdown", "metadata": {}, "source": ["## Section"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "a.ipynb").write_text(json.dumps(nb))
    assert book.prepare_notebook(tmp_path / "a.ipynb", tmp_path / "b.ipynb", title_suffix=" (full mode)") == ["C01"]
    out = json.loads((tmp_path / "b.ipynb").read_text())
    text = "".join(out["cells"][0]["source"])
    assert text.startswith('<a id="c01"></a>') and "# Title (full mode)\ntext **C01**" in text
    assert "".join(out["cells"][1]["source"]) == "## Section"


def _reader_text(path: Path):
    """``(where, text)`` a reader sees in a page: a Markdown page whole; a notebook's Markdown cells and
    outputs (not its code, where ``None`` and paths are the program's)."""
    if path.suffix == ".md":
        yield path.name, path.read_text()
        return
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] == "markdown":
            yield f"{path.name} cell {i}", "".join(cell["source"])
        for out in cell.get("outputs", []):
            for text in [out.get("text", "")] + [out.get("data", {}).get(k, "") for k in
                                                 ("text/plain", "text/markdown", "text/html")]:
                yield f"{path.name} cell {i}", "".join(text)


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 1, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        return all((obj := getattr(obj, attr, None)) is not None for attr in parts[i:])
    return False


def test_no_placeholder_reaches_a_reader(site):
    """Every page of the book and results/CLAIMS.md: no value printed as None, no "[unverified", no
    path to a file the repository does not have, no flowlab name that does not exist."""
    pages = sorted(site.rglob("*.md")) + sorted(site.rglob("*.ipynb")) + [ROOT / "results" / "CLAIMS.md"]
    found = []
    for page in pages:
        for where, text in _reader_text(page):
            found += [f"{where}: {m.group(0)!r}" for m in
                      re.finditer(r"(?:[:=(]\s*|\b(?:ours|published|measured|expected)\s+)None\b|\[unverified|"
                                  r"to be checked against", text)]
            found += [f"{where}: `{m.group(1)}` does not exist" for m in
                      re.finditer(r"`((?:lib|tests|results|figures|notebooks|benchmarks|data)/[\w./-]+\.\w+)`", text)
                      if not (ROOT / m.group(1)).exists()]
            found += [f"{where}: {name} does not exist" for name in
                      set(re.findall(r"\bflowlab(?:\.[A-Za-z_]\w*)+", text)) if not _resolves(name)]
    assert not found, "placeholders and dead references a reader would see:\n" + "\n".join(sorted(set(found)))


def test_the_landing_page_has_the_tally_the_headline_figure_where_to_start_and_run_times(site):
    intro = (site / "intro.md").read_text()
    results = book.load_results(ROOT / "results")
    assert f"**{book.tally(results)}** in quick mode" in intro
    assert "```{figure} _static/03_ablation.png" in intro and (site / "_static" / "03_ablation.png").is_file()
    assert "**Start with [01 · " in intro and "](notebooks/01_change_of_variables.ipynb)**" in intro
    runs = json.loads((ROOT / "results" / "runs.json").read_text())
    for nb in sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"](notebooks/{nb}.ipynb) | " in intro and f"| {runs[nb]['seconds']:.0f} s |" in intro


def test_every_notebook_page_gives_its_run_time_under_its_title(site):
    runs = json.loads((ROOT / "results" / "runs.json").read_text())
    for path in sorted((site / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
        text = "".join(first["source"])
        assert "*Quick mode: about " in text and f"`make reproduce NB={path.stem[:2]}`" in text, path.name
        assert path.stem in runs
