"""The method document (``docs/method.md``, Danish ``docs/method.da.md``) as offline HTML beside the report.

:func:`render_docs` converts the project's Markdown documents to standalone
HTML pages (mistune 3 with tables; headings get anchors, links to other
``.md`` documents become links to their ``.html`` pages) styled like the
report, so that the report can link each rule to its section
(``method.html#step-5-gp-capacities``) and a reviewer with only the report
folder can read how every number was computed.  Nothing is fetched from
outside the page.
"""

from __future__ import annotations

import html as html_lib
import re
import unicodedata
from importlib import resources
from pathlib import Path

#: The documents shipped with the package (``model/docs``: a link to the top-level ``docs/`` in the repository).
DOCS = Path(str(resources.files("model").joinpath("docs")))
#: Documents rendered with every report: source Markdown -> page.
DOCUMENTS = {"method.md": "method.html", "method.da.md": "method.da.html",
             "synthetic_data_calibration.md": "synthetic_data_calibration.html"}
#: Page titles.
TITLES = {"method.md": "The model's method", "method.da.md": "Modellens metode",
          "synthetic_data_calibration.md": "Calibration of the synthetic data"}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; line-height: 1.5; color: #1a1a1a;
       margin: 0; padding: 0 1rem; }
main { max-width: 52rem; margin: 0 auto; padding-bottom: 4rem; }
h1 { font-size: 1.7rem; } h2 { font-size: 1.35rem; margin-top: 2rem; } h3 { font-size: 1.1rem; margin-top: 1.5rem; }
code { background: #f3f3f3; padding: 0 0.2rem; font-size: 0.9em; }
pre { background: #f3f3f3; padding: 0.6rem; overflow-x: auto; }
blockquote { border-left: 3px solid #bbb; margin-left: 0; padding-left: 1rem; color: #333; }
.table-box { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.6rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.45rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.report-nav { margin: 0.8rem 0; font-size: 0.9rem; }
.report-nav a, .report-nav span { margin-right: 1rem; }
.report-nav span { font-weight: 600; }
"""


def slug(text: str) -> str:
    """The anchor of a heading: lower case, letters (æøå kept), digits and '-' only, spaces to '-'."""
    text = unicodedata.normalize("NFC", re.sub(r"<[^>]+>", "", html_lib.unescape(text))).strip().lower()
    text = re.sub(r"\s+", "-", text)
    return re.sub(r"[^\w-]", "", text).replace("_", "")


def markdown_html(text: str) -> str:
    """Markdown to an HTML fragment: headings with ``id`` anchors, tables in a scrolling box, ``.md`` links to ``.html``."""
    import mistune

    class _Renderer(mistune.HTMLRenderer):
        def __init__(self) -> None:
            super().__init__(escape=False)
            self.seen: dict[str, int] = {}

        def heading(self, text: str, level: int, **attrs) -> str:
            s = slug(text)
            n = self.seen.get(s, 0)
            self.seen[s] = n + 1
            anchor = s if n == 0 else f"{s}-{n}"
            return f'<h{level} id="{anchor}">{text}</h{level}>\n'

        def link(self, text: str, url: str, title: str | None = None) -> str:
            m = re.match(r"^([\w./-]*?)([\w-]+(?:\.da)?)\.md(#.*)?$", url)
            if m and not url.startswith(("http:", "https:")):
                url = f"{m.group(2)}.html{m.group(3) or ''}"
            return super().link(text, url, title)

    md = mistune.create_markdown(renderer=_Renderer(), plugins=["table", "strikethrough"])
    out = md(text)
    return re.sub(r"<table>(.*?)</table>", r'<div class="table-box"><table>\1</table></div>', out, flags=re.S)


def page_html(body: str, title: str, lang: str = "en", nav: str | None = None) -> str:
    """A standalone, offline HTML page around ``body``."""
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html_lib.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
            + (f'<nav class="report-nav" aria-label="Report pages">{nav}</nav>\n' if nav else "")
            + body + "</main>\n</body>\n</html>\n")


def render_docs(out: str | Path, nav: dict[str, str] | None = None, source: str | Path | None = None) -> list[Path]:
    """Write the pages of :data:`DOCUMENTS` into ``out``; return their paths.

    ``nav``: the navigation line per page file (``model.report.html.nav_html``);
    ``source``: the folder of the Markdown documents (default :data:`DOCS`).
    A document missing from ``source`` is skipped.
    """
    src, out = Path(source) if source is not None else DOCS, Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, page in DOCUMENTS.items():
        p = src / name
        if not p.is_file():
            continue
        lang = "da" if name.endswith(".da.md") else "en"
        body = markdown_html(p.read_text(encoding="utf-8"))
        target = out / page
        target.write_text(page_html(body, TITLES[name], lang, (nav or {}).get(page)), encoding="utf-8", newline="\n")
        written.append(target)
    return written


def anchors(html: str) -> set[str]:
    """The ``id`` anchors of a page (for link checks)."""
    return set(re.findall(r'\sid="([^"]+)"', html))
