"""``make book``: the companion's static site, from the executed notebooks (nothing re-executed).

``python -m flowlab.lab.book`` assembles the pages in ``build/book/src`` and runs Jupyter Book 1.x
on them with warnings as errors:

- the hand-written pages of ``book/`` (introduction, how to run, the lecture index) and its config;
- ``claims.md``, generated from ``results/``: the tally per kind, every claim with its verdict, our
  number, the scale and the published number, each linked to its place in its notebook;
- ``notebooks.md``, the notebooks grouped by topic with a thumbnail from ``figures/``;
- copies of ``notebooks/NN_*.ipynb`` in which each quoted claim gets an anchor (``#c11``) and the
  setup and plotting cells are collapsed (their outputs stay visible), and of the committed
  full-mode reference runs ``notebooks/full/NN_*.ipynb``, each placed after its quick-mode page and
  listed, with its run time, at the end of the claims page;
- MathJax, copied from the ``django-static-mathjax`` wheel into the site, so math renders offline.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from flowlab.files import repo_root, write_bytes_atomic
from flowlab.lab import manifest, registry, report
from flowlab.lab.tables import KIND_LEGEND, load_results, run_times, tally, verdict_text

CLAIM_QUOTE = re.compile(r"\*\*(C\d\d)\*\*")


def _title(nb: dict, fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            first = "".join(cell["source"]).strip().splitlines()[0]
            if first.startswith("#"):
                return first.lstrip("#").strip()
    return fallback


def _is_collapsible(cell: dict) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    source = "".join(cell["source"])
    return ("parameters" in tags or source.lstrip().startswith(("import ", "from "))
            or "plt.subplots" in source or "save_figure(" in source)


def prepare_notebook(src: Path, dst: Path, title_suffix: str = "", run_time: str = "") -> list[str]:
    """Copy a notebook for the site: claim anchors, collapsed setup/plot cells, ``title_suffix`` after
    its title (a full-mode run reads "... (full mode)" in the navigation) and ``run_time`` under it.
    Returns its claims."""
    nb = json.loads(src.read_text())
    anchored: list[str] = []
    titled = not (title_suffix or run_time)
    for i, cell in enumerate(nb["cells"]):
        cell.setdefault("id", f"cell-{i}")  # nbformat 4.5 wants ids; stable ones keep the site deterministic
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            if not titled and text.lstrip().startswith("#"):
                first, _, rest = text.lstrip().partition("\n")
                text, titled = first + title_suffix + "\n" + (f"\n*{run_time}*\n" if run_time else "") + rest, True
                cell["source"] = [text]
            new = [c for c in CLAIM_QUOTE.findall(text) if c not in anchored]
            if new:
                anchors = "".join(f'<a id="{c.lower()}"></a>' for c in new)
                cell["source"] = [anchors + "\n\n" + text]
                anchored += new
        elif cell["cell_type"] == "code" and _is_collapsible(cell):
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if "hide-input" not in tags:
                tags.append("hide-input")
    write_bytes_atomic(dst, (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode())
    return anchored


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_page(results: dict[str, dict], anchors: dict[str, set[str]]) -> str:
    lines = ["# The claims", "", f"**{tally(results)}** (quick mode, 2 CPU cores).", "", KIND_LEGEND, ""]
    missing = [(nb, c) for nb, d in results.items() for c in d["claims"] if c["verdict"] != "reproduced"]
    if missing:
        lines += ["## Not reproduced: failed, contradicted, or inconclusive at this scale", ""]
        for nb, c in missing:
            lines.append(f"- {_link(nb, c['id'], anchors)} *{verdict_text(results[nb], c)}*: "
                         f"{_cell(report.why_not(c))} — at {_cell(c.get('scale', ''))}")
        lines.append("")
    lines += ["## Every claim", ""] + claims_table(results, anchors, "notebooks/", with_source=True)
    return "\n".join(lines)


def _verdict_mark(data: dict, c: dict) -> str:
    """The verdict with its mark, coloured by the stylesheet: reproduced, inconclusive, or failed."""
    kind = {"reproduced": "reproduced", "inconclusive at this scale": "inconclusive"}.get(c["verdict"], "failed")
    mark = {"reproduced": "✓", "inconclusive": "○"}.get(kind, "✗")
    return f'<span class="verdict verdict-{kind}">{mark} {_cell(verdict_text(data, c))}</span>'


def claims_table(results: dict[str, dict], anchors: dict[str, set[str]], folder: str,
                 with_source: bool) -> list[str]:
    """One row per claim, its id linked to its anchor in ``folder``'s notebook page: what the lecture
    says, then (with ``with_source``) where and the kind of check, the verdict, our number, the scale
    and the published number with its source."""
    head = ["claim", "the lecture says"] + (["lecture source", "kind"] if with_source else []) + [
        "verdict", "ours [expected ± tol]", "scale", "published"]
    lines = [":::{div} claims-table", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for nb, data in results.items():
        for c in data["claims"]:
            cells = [_link(nb, c["id"], anchors, folder), _cell(c.get("statement", ""))]
            cells += [_cell(c["source"]), c["kind"]] if with_source else []
            cells += [_verdict_mark(data, c), _cell(report.key_result(c)), _cell(c.get("scale", "")),
                      _cell(report.published(c))]
            lines.append("| " + " | ".join(cells) + " |")
    return lines + ["", ":::", ""]


def full_mode_section(results: dict[str, dict], anchors: dict[str, set[str]], runs: str) -> str:
    """The committed full-mode reference runs (``results/full/``), each claim linked to its place in
    the full-mode notebook; empty when there are none."""
    if not results:
        return ""
    lines = ["## Full-mode reference runs", "",
             f"**{tally(results)}** at the scale each claim needs (`make reproduce MODE=full NB=..`). {runs}", ""]
    return "\n".join(lines + claims_table(results, anchors, "notebooks/full/", with_source=False))


def _link(nb: str, claim_id: str, anchors: dict[str, set[str]], folder: str = "notebooks/") -> str:
    anchor = f"#{claim_id.lower()}" if claim_id in anchors.get(folder + nb, set()) else ""
    return f'<a class="claim-link" href="{folder}{nb}.html{anchor}">{claim_id}</a>'


def notebooks_page(titles: dict[str, str], figures: Path, site: Path) -> str:
    """The notebooks grouped by their manifest section, each with a thumbnail of its first figure."""
    lines = ["# The notebooks", ""]
    for section, notebooks in manifest.SECTIONS:
        present = [nb for nb in notebooks if nb in titles]
        if not present:
            continue
        lines += [f"## {section}", "", '<div class="notebook-grid">']
        for nb in present:
            thumbs = sorted(figures.glob(f"{nb[:2]}_*.png"))
            img = ""
            if thumbs:  # raw HTML is not followed by Sphinx: the thumbnail travels as a static file
                (site / "_static" / "thumbs").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(thumbs[0], site / "_static" / "thumbs" / thumbs[0].name)
                img = f'<img src="_static/thumbs/{thumbs[0].name}" alt="{thumbs[0].stem}">'
            claims = ", ".join(s.id for s in registry.claims_for(nb))
            lines.append(f'<div class="notebook-card"><a href="notebooks/{nb}.html">{img}'
                         f"<br><b>{titles[nb]}</b></a><br>{claims}</div>")
        lines += ["</div>", ""]
    return "\n".join(lines)


def toc(titles: dict[str, str], full: tuple[str, ...] = ()) -> str:
    """The table of contents, by the manifest's sections; a notebook with a full-mode reference run has it
    right after it."""
    out = ["format: jb-book", "root: intro", "parts:", "  - caption: Start here", "    chapters:"]
    out += [f"      - file: {page}" for page in ("how_to_run", "claims", "notebooks", "lectures")]
    for section, notebooks in manifest.SECTIONS:
        present = [nb for nb in notebooks if nb in titles]
        if present:
            out += [f"  - caption: \"{section}\"", "    chapters:"]
            for nb in present:
                out.append(f"      - file: notebooks/{nb}")
                if nb in full:
                    out.append(f"      - file: notebooks/full/{nb}")
    return "\n".join(out) + "\n"


def mathjax_folder() -> Path:
    try:
        import mathjax  # the django-static-mathjax wheel
    except ImportError:
        raise SystemExit("make book needs MathJax from the django-static-mathjax wheel: "
                         "pip install -e '.[book]'") from None
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


HEADLINE = ("03_ablation", "C11, the lectures' headline ablation: Glow's 1x1 convolution against fixed "
                            "permutations, affine against additive coupling, each seed a dot")


def landing(root: Path, results: dict[str, dict], titles: dict[str, str], site: Path) -> str:
    """What the landing page adds to ``book/intro.md``: the tally, the headline figure, where to start,
    and each notebook's quick-mode run time (``results/runs.json``)."""
    runs = json.loads((root / "results" / "runs.json").read_text()) if (root / "results" / "runs.json").is_file() \
        else {}
    first = next(iter(titles))
    lines = ["", "## At a glance", "", f"**{tally(results)}** in quick mode on a 2-core CPU "
             "([every claim, its verdict and numbers](claims.md)).", ""]
    figure = root / "figures" / f"{HEADLINE[0]}.png"
    if figure.is_file():
        shutil.copyfile(figure, site / "_static" / figure.name)
        lines += [f"```{{figure}} _static/{figure.name}", ":width: 100%", "", f"{HEADLINE[1]}.", "```", ""]
    lines += [f"**Start with [{titles[first]}](notebooks/{first}.ipynb)** and follow the notebooks in order: "
              "each builds on the one before.", "", "| notebook | claims | quick-mode run time |", "|---|---|---|"]
    for nb, title in titles.items():
        ids = ", ".join(c["id"] for c in results.get(nb, {}).get("claims", []))
        seconds = runs.get(nb, {}).get("seconds")
        lines.append(f"| [{_cell(title)}](notebooks/{nb}.ipynb) | {ids} | "
                     f"{f'{seconds:.0f} s' if seconds is not None else '-'} |")
    return "\n".join(lines) + "\n"


def _run_time(root: Path, nb: str, mode: str) -> str:
    """``Quick mode: about 2 min on 2 CPU cores (make reproduce NB=03).``, from the last run's ``runs.json``."""
    path = root / "results" / ("" if mode == "quick" else mode) / "runs.json"
    run = json.loads(path.read_text()).get(nb) if path.is_file() else None
    if run is None:
        return ""
    seconds = run["seconds"]
    took = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
    where = f"{run['cpus']} CPU cores" + (f" and a {run['gpu']}" if run.get("gpu") else "")
    flag = "" if mode == "quick" else f"MODE={mode} "
    return f"{mode.capitalize()} mode: about {took} on {where} (`make reproduce {flag}NB={nb[:2]}`)."


def assemble(root: Path, site: Path) -> None:
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(root / "book", site)
    shutil.copytree(mathjax_folder(), site / "_mathjax")
    (site / "notebooks").mkdir()
    titles, anchors = {}, {}
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        anchors["notebooks/" + path.stem] = set(prepare_notebook(path, site / "notebooks" / path.name,
                                                                 run_time=_run_time(root, path.stem, "quick")))
        titles[path.stem] = _title(json.loads(path.read_text()), path.stem)
    full_results = load_results(root / "results" / "full") if (root / "results" / "full").is_dir() else {}
    full = tuple(nb for nb in full_results if (root / "notebooks" / "full" / f"{nb}.ipynb").is_file())
    (site / "notebooks" / "full").mkdir()
    for nb in full:
        anchors["notebooks/full/" + nb] = set(prepare_notebook(root / "notebooks" / "full" / f"{nb}.ipynb",
                                                               site / "notebooks" / "full" / f"{nb}.ipynb",
                                                               title_suffix=" (full mode)",
                                                               run_time=_run_time(root, nb, "full")))
    results = load_results(root / "results")
    (site / "claims.md").write_text(claims_page(results, anchors) + "\n"
                                    + full_mode_section({nb: full_results[nb] for nb in full}, anchors,
                                                        run_times(root / "results" / "full")))
    (site / "notebooks.md").write_text(notebooks_page(titles, root / "figures", site))
    with (site / "intro.md").open("a") as intro:
        intro.write(landing(root, results, titles, site))
    (site / "_toc.yml").write_text(toc(titles, full))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flowlab.lab.book", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="build folder (default build/book)")
    args = parser.parse_args(argv)
    root = repo_root()
    out = Path(args.out) if args.out else root / "build" / "book"
    site = out / "src"
    assemble(root, site)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(site), "--path-output", str(out), "--warningiserror", "--keep-going", "--quiet"]
    done = subprocess.run(cmd)
    if done.returncode == 0:
        print(f"book: {out / '_build' / 'html' / 'index.html'}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
