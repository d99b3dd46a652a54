"""The rendered book, opened in headless Chromium: math rendered, every figure loaded, every claim
link lands on an existing anchor, nothing fetched from outside the site.

Builds the site with ``python -m flowlab.lab.book`` (Jupyter Book 1.x, warnings as errors) into a
temporary folder, serves it on localhost and drives Debian's ``chromium`` with Playwright (its
bundled browser is never downloaded). Without ``chromium`` the test is skipped with how to install
it; ``.ci/run`` installs it, so CI always runs this test. Screenshots of the claims page and of
notebooks 03 and 11 are kept in ``build/book-screens/`` for a human to look at.
"""
from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium: `apt-get install chromium` (.ci/run installs it)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("playwright", reason="pip install -e '.[book]'")
    out = tmp_path_factory.mktemp("book")
    done = subprocess.run([sys.executable, "-m", "flowlab.lab.book", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"make book failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    html = out / "_build" / "html"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a, **k: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", html
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                     "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def open_page(browser, url, outside: list):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})

    def route(r):
        host = urlparse(r.request.url).hostname
        if host not in ("127.0.0.1", "localhost", None):
            outside.append(r.request.url)
            return r.abort()
        return r.continue_()

    page.route("**/*", route)
    page.set_default_timeout(120_000)  # a loaded CI machine is slow, not broken
    page.goto(url, wait_until="load")
    return page


# What a reader at 1280 px must see whole: cell outputs (check and verdict lines, tables, figures) and the
# pages' own tables, and Markdown outputs with their math rendered. Code cells may scroll: their lines are
# the program's.
_OVERFLOWS = r"""() => {
  const article = document.querySelector('article');
  if (!article) return ['no article'];
  const box = article.getBoundingClientRect(), out = [];
  for (const el of article.querySelectorAll('.cell_output pre, .cell_output table, .cell_output img, article table')) {
    const r = el.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1 || r.right > box.right + 1)
      out.push(`${el.tagName} ${el.scrollWidth} in ${el.clientWidth}: ${(el.innerText || el.src || '').slice(0, 50)}`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth) out.push('the page scrolls sideways');
  for (const el of article.querySelectorAll('.cell_output p, .cell_output li'))  // Markdown output: math rendered
    if (/\$[^$\s][^$]*\$/.test(el.innerText)) out.push('raw math: ' + el.innerText.slice(0, 60));
  return out;
}"""


@pytest.fixture(scope="module")
def visits(site, browser):
    """Every page of the site opened once (a page load costs seconds here): at 1400 px, its images and, on a
    notebook page, its math once MathJax has run; then at 1280 px, what overflows; and the ids it holds.
    Returns ``(facts by page name, the claims page's claim links, requests that left the site)``."""
    base, html = site
    outside: list[str] = []
    screens = ROOT / "build" / "book-screens"
    screens.mkdir(parents=True, exist_ok=True)
    notebooks = sorted(str(p.relative_to(html).with_suffix("")) for p in (html / "notebooks").rglob("*.html"))
    assert notebooks, "the book has no notebook pages"
    facts, links = {}, []
    for name in ["intro", "claims", "notebooks", "lectures", "how_to_run"] + notebooks:
        page = open_page(browser, f"{base}/{name}.html", outside)
        seen = {"broken": page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                                        ".map(i => i.getAttribute('src'))")}
        if name.startswith("notebooks/"):
            page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=120_000)
            seen["unrendered"] = page.evaluate("document.querySelectorAll('mjx-merror').length")
        if name in ("claims", "notebooks/03_glow_vs_realnvp", "notebooks/11_adjoint_method"):
            page.screenshot(path=str(screens / (name.replace("/", "_") + ".png")), full_page=False)
        if name == "claims":
            links = page.evaluate("[...document.querySelectorAll('a.claim-link')].map(a => a.href)")
        page.set_viewport_size({"width": 1280, "height": 900})
        page.wait_for_timeout(200)  # the re-layout at the new width
        seen["overflows"] = page.evaluate(_OVERFLOWS)
        if name in ("intro", "claims") or name[10:12] in ("03", "07", "09", "12", "14"):
            page.screenshot(path=str(screens / f"1280_{name.replace('/', '_')}.png"), full_page=False)
        seen["ids"] = set(page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)"))
        facts[name] = seen
        page.close()
    return facts, links, outside


def test_pages_render_offline(visits):
    facts, _, outside = visits
    for name, seen in facts.items():
        assert not seen["broken"], f"{name}: images that did not load: {seen['broken']}"
        assert not seen.get("unrendered"), f"{name}: {seen.get('unrendered')} formulas failed to render"
    assert not outside, f"pages fetched from outside the site: {sorted(set(outside))[:5]}"


def test_every_claim_link_lands_on_an_anchor(visits):
    facts, links, _ = visits
    assert links, "the claims page links no claim to its notebook"
    missing = []
    for href in sorted(set(links)):
        target = urlparse(href)
        seen = facts.get(target.path.lstrip("/").removesuffix(".html"))
        if seen is None or target.fragment and target.fragment not in seen["ids"]:
            missing.append(href)
    assert not missing, f"claim links to no page of the site, or to an anchor it does not have: {missing}"


def test_nothing_a_reader_needs_overflows_at_1280_px(visits):
    facts, _, _ = visits
    overflowing = {name: seen["overflows"][:3] for name, seen in facts.items() if seen["overflows"]}
    assert not overflowing, f"outputs or tables wider than their page at 1280 px: {overflowing}"


def test_a_shrunk_figure_opens_at_full_size_on_a_click(site, browser):
    base, _ = site
    outside: list[str] = []
    page = open_page(browser, f"{base}/notebooks/03_glow_vs_realnvp.html", outside)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.wait_for_timeout(200)
    shrink = page.evaluate("[...document.querySelectorAll('div.cell_output img')]"
                           ".map(i => i.naturalWidth / i.clientWidth)")
    assert shrink and page.locator("div.cell_output img.zoomable").count() == len(shrink)
    most = max(range(len(shrink)), key=shrink.__getitem__)
    assert shrink[most] > 1.1, f"no figure of notebook 03 is shrunk at 1280 px: {shrink}"  # 03_ablation is
    small = page.locator("div.cell_output img").nth(most)
    small.scroll_into_view_if_needed()
    small.click()
    shown = page.evaluate("(() => { const o = document.querySelector('.flowlab-zoom.open img');"
                          " return o ? [o.clientWidth, o.naturalWidth] : null; })()")
    assert shown is not None and shown[0] == shown[1], f"the enlarged figure is not at its own size: {shown}"
    page.keyboard.press("Escape")
    assert page.evaluate("document.querySelector('.flowlab-zoom.open')") is None
    page.close()
    assert not outside
