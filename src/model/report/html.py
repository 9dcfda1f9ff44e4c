"""Executed notebooks to reviewer HTML: offline, without code, deterministic.

:func:`to_html` converts an executed notebook with nbconvert's ``lab``
template, extended by ``templates/report_offline.html.j2`` (no require.js,
MathJax or mermaid from a CDN), code and prompts excluded, figures as
embedded PNG; :func:`clean_for_html` first drops timestamps, stderr and
empty cells so that two renders of the same data give the same page apart
from nothing; :func:`outside_requests` finds anything that would make a
browser fetch from outside the file.

``nbformat`` and ``nbconvert`` are imported inside the functions that use
them: together they take seconds to import, and the notebooks and the
command line import this package's report modules without converting anything.
"""

from __future__ import annotations

import copy
import functools
import re
import sys
from pathlib import Path
from typing import Any

from model.errors import NotebookFailed

#: Folder of the jinja2 templates (clinic sheets) and of the offline HTML template for notebooks.
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def _skip_slow_iri_checker() -> None:
    """Keep ``nbformat``'s import from building the ``rfc3987_syntax`` grammar (2.5 s of CPU).

    ``jsonschema`` imports ``rfc3987_syntax`` (pulled in by JupyterLab) when it
    is installed, only to check the ``iri`` string format, which the notebook
    schema never uses.  Marking it absent before the first import skips it;
    nothing is changed when it was already imported.
    """
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]


_TIMING_KEYS = ("start_time", "end_time", "duration", "exception", "status")


def clean_for_html(nb) -> tuple[Any, list[str]]:
    """A copy of an executed notebook ready for HTML, and the stderr text it held.

    Removes papermill's start/end times, durations and statuses and the
    kernel's execution timestamps (notebook and cell metadata), drops code
    cells without output (e.g. the injected parameters) and cells tagged
    ``notebook-only`` (words for a user who opens the notebook), drops ``stderr``
    streams (warnings; returned so the caller can log them) and numbers the
    cells' ids deterministically (papermill's injected cell gets a random one).
    """
    nb = copy.deepcopy(nb)
    pmeta = nb.metadata.get("papermill", {})
    for k in _TIMING_KEYS:
        pmeta.pop(k, None)
    for k in ("input_path", "output_path"):
        pmeta.pop(k, None)
    stderr: list[str] = []
    cells = []
    for c in nb.cells:
        md = c.get("metadata", {})
        if "notebook-only" in md.get("tags", []):  # e.g. the note for a user who opens the notebook
            continue
        md.pop("execution", None)
        if "papermill" in md:
            for k in _TIMING_KEYS:
                md["papermill"].pop(k, None)
        if c.cell_type == "code":
            kept = []
            for o in c.get("outputs", []):
                if o.get("output_type") == "stream" and o.get("name") == "stderr":
                    stderr.append(o.get("text", ""))
                    continue
                kept.append(o)
            c.outputs = kept
            if not kept:
                continue
        cells.append(c)
    for i, c in enumerate(cells):
        c["id"] = f"c{i:03d}"
    nb.cells = cells
    return nb, stderr


_URL_COMMENT = re.compile(r"/\*(?:(?!\*/).)*?https?://(?:(?!\*/).)*?\*/", re.S)


_OUTSIDE = re.compile(r"""(?:\bsrc|\bhref|\bdata|\baction|@import|url\()\s*=?\s*["']?\s*(?:https?:)?//""", re.I)


def outside_requests(html: str) -> list[str]:
    """Attributes or CSS that would make a browser fetch something from outside the file."""
    return [html[max(0, m.start() - 40): m.end() + 60] for m in _OUTSIDE.finditer(html)]


#: The banner on every published page computed from the project's synthetic data (``synthetic_manifest.json``).
SYNTHETIC_BANNER = {
    "en": ("<strong>Synthetic data.</strong> Every figure on this page was computed from the project's synthetic "
           "national data ({what}), made by a random generator calibrated to public statistics. No real person, "
           "clinic or fee is in them. The page shows how the model works; its numbers are <em>not</em> official "
           "results."),
    "da": ("<strong>Syntetiske data.</strong> Alle tal på denne side er beregnet på projektets syntetiske "
           "landsdækkende data ({what}), lavet af en tilfældighedsgenerator kalibreret til offentlig statistik. "
           "Ingen rigtige personer, klinikker eller honorarer indgår. Siden viser, hvordan modellen virker; "
           "tallene er <em>ikke</em> officielle resultater."),
}


def data_banner(origin: dict | None, lang: str = "en") -> str | None:
    """The banner's HTML for data described by :func:`model.artifacts.data_origin`; None for a register extract."""
    if not origin or not origin.get("synthetic"):
        return None
    bits = []
    if origin.get("persons"):
        n = f"{int(origin['persons']):,}"
        bits.append((n.replace(",", ".") + " syntetiske borgere") if lang == "da" else f"{n} synthetic citizens")
    years = origin.get("years") or []
    if years:
        bits.append(f"{min(years)}-{max(years)}" if len(years) > 1 else f"{years[0]}")
    if origin.get("seed") is not None:
        bits.append(f"seed {origin['seed']}")
    if origin.get("folder"):
        bits.append(("mappen " if lang == "da" else "folder ") + f"<code>{origin['folder']}</code>")
    return SYNTHETIC_BANNER["da" if lang == "da" else "en"].format(what=", ".join(bits))


def nav_html(pages: list[tuple[str, str]], current: str | None = None) -> str:
    """The navigation line between a report's pages: ``pages`` as (label, file); the ``current`` file is not a link."""
    import html as html_lib

    return " ".join(f"<span>{html_lib.escape(label)}</span>" if href == current
                    else f'<a href="{html_lib.escape(href)}">{html_lib.escape(label)}</a>' for label, href in pages)


def redact_paths(text: str, roots: dict[str | Path, str]) -> str:
    """``text`` with each absolute path of ``roots`` replaced by its display name (longest first).

    ``roots``: ``{path: shown}``, e.g. ``{"/srv/data/extract2025": "extract2025"}``; a published page
    names folders, never a machine's paths (home folders, servers, temporary folders).
    """
    shown = {str(k): v for k, v in roots.items() if str(k) not in ("", "/", ".")}
    for root in sorted(shown, key=len, reverse=True):
        text = text.replace(root, shown[root])
    return text


_ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:home|root|tmp|work|srv|var|mnt|Users|opt|data|media|private)/[^\s\"'<>)]*")


def absolute_paths(html: str) -> list[str]:
    """Absolute file paths in a page's text (embedded images skipped): for tests and the render's last check."""
    text = re.sub(r'data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+', "", html)
    return sorted(set(_ABSOLUTE.findall(text)))


def _name_only(html: str) -> str:
    """Every absolute path of :func:`absolute_paths` in ``html``'s text replaced by its last part (embedded
    images untouched: a base64 run never starts a path here, as the pattern needs a path start)."""
    parts = re.split(r'(data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+)', html)
    for i in range(0, len(parts), 2):
        parts[i] = _ABSOLUTE.sub(lambda m: Path(m.group(0).rstrip("/.,;:")).name + m.group(0)[len(m.group(0).rstrip("/.,;:")):],
                                 parts[i])
    return "".join(parts)


#: An image without alternative text, and an output or input area that nbconvert makes focusable (``tabindex``).
_IMG_NO_ALT = re.compile(r"<img(?![^>]*\balt=)")
_FOCUSABLE = re.compile(r'(<div class="[^"]*\bjp-(?:OutputArea-output|Cell-inputWrapper)\b[^"]*")')
#: The exporter's options for a reviewer's page: the offline template, no code, no prompts, no anchor links.
EXPORTER_OPTIONS = dict(
    template_name="lab", template_file="report_offline.html.j2", extra_template_paths=[str(TEMPLATES)],
    exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
    exclude_anchor_links=True, mathjax_url="", require_js_url="",
)


@functools.cache
def _report_exporter_class():
    """nbconvert's ``HTMLExporter`` without its last step, a BeautifulSoup parse and re-serialisation of the whole
    page (0.4 s of a page's 0.7 s) that only gives images without one an ``alt`` text and makes the input and
    output areas focusable (``tabindex="0"``); those two are done here on the page's text. The steps before are
    ``HTMLExporter.from_notebook_node``'s own (nbconvert pinned in pyproject.toml; a test compares the pages)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class ReportHTMLExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            html = _IMG_NO_ALT.sub('<img alt="No description has been provided for this image"', html)
            return _FOCUSABLE.sub(r'\1 tabindex="0"', html), resources

    return ReportHTMLExporter


def to_html(executed_nb: str | Path | Any, html_path: str | Path, title: str, banner: str | None = None,
            nav: str | None = None, redact: dict[str | Path, str] | None = None) -> list[str]:
    """Convert an executed notebook to a reviewer's HTML page; return the stderr texts dropped.

    nbconvert's ``HTMLExporter`` with the ``lab`` template (extended by
    ``templates/report_offline.html.j2``: no require.js, MathJax or mermaid
    scripts), code and prompts excluded, figures as embedded PNG.  CSS
    comments carrying URLs are removed, and the page is checked to make no
    outside request (:class:`NotebookFailed` otherwise).  ``banner``: HTML
    shown at the top of the page, staying in view while scrolling (the
    synthetic-data banner, :func:`data_banner`); ``nav``: the navigation line
    (:func:`nav_html`); ``redact``: absolute paths to show by name only
    (:func:`redact_paths`).
    """
    _skip_slow_iri_checker()
    import nbformat  # slow imports (see the module docstring)

    nb = executed_nb if not isinstance(executed_nb, (str, Path)) else nbformat.read(executed_nb, as_version=4)
    nb, stderr = clean_for_html(nb)
    nb.metadata["title"] = title
    exporter = _report_exporter_class()(**EXPORTER_OPTIONS)
    resources = {"metadata": {"name": title}, "banner": banner or "", "nav": nav or ""}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body = _URL_COMMENT.sub("", body)
    if redact:
        body = redact_paths(body, redact)
    body = _name_only(body)  # any other machine path left in the text: its last part only
    bad = outside_requests(body)
    if bad:
        raise NotebookFailed(f"{title}: the HTML would make outside requests: {bad[:3]}")
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8", newline="\n")
    return stderr
