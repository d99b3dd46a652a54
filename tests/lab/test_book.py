"""The book's pages as assembled from the repository (no Jupyter Book run: the browser test builds it)."""
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
