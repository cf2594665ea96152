"""Sanitizing a message's HTML for the viewer, and reading its text.

The allowlist keeps what mail formatting needs (paragraphs, lists, tables, fonts,
colours, links, images) and nothing that runs, loads a document or takes input:
no script, style, iframe, object, embed, form controls, svg or math, no event
handlers, no ``class`` or ``id`` (they would reach the page's own CSS and DOM).

URLs: only http, https, mailto and tel survive. ``data:`` is refused outright: nh3
allows schemes, not media types, so allowing ``data:image/*`` would also let
``data:text/html`` through on a link, and inline base64 images would put attachment
content into the stored body. ``cid:`` images are dropped too, since attachment
content is never kept for them to point at. Relative URLs are refused because the
viewer would resolve them against the product's own origin. Remote images keep
their ``src`` (the viewer's Content-Security-Policy blocks loading them), but
``srcset`` goes, so that there is one URL per image to reason about.

Styles: only properties that change how text and boxes look are kept. Anything
that can load a URL (``background``, ``background-image``, ``list-style-image``,
``cursor``, ``content``) or move content over the page (``position``, ``z-index``)
is dropped; ``<style>`` elements go with their content, ``@import`` included.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

TAGS = frozenset(
    {
        "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br",
        "caption", "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn",
        "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp",
        "small", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
    }
)  # fmt: skip

#: Elements removed together with everything inside them: their content is code,
#: metadata or a fallback nobody wrote for a reader.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "head", "title", "noscript", "template", "iframe",
        "frame", "frameset", "object", "embed", "applet", "svg", "math", "xml",
        "select", "textarea", "button",
    }
)  # fmt: skip

TABLE_ATTRIBUTES = frozenset(
    {"align", "valign", "width", "height", "bgcolor", "border", "colspan", "rowspan"}
)

ATTRIBUTES = {
    "*": {"style", "dir", "lang", "title", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "border"},
    "font": {"color", "face", "size"},
    "table": TABLE_ATTRIBUTES | {"cellpadding", "cellspacing", "summary"},
    "td": TABLE_ATTRIBUTES,
    "th": TABLE_ATTRIBUTES,
    "tr": TABLE_ATTRIBUTES,
    "col": TABLE_ATTRIBUTES | {"span"},
    "colgroup": TABLE_ATTRIBUTES | {"span"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value"},
    "blockquote": {"cite"},
}

STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font", "font-family", "font-size",
        "font-style", "font-weight", "font-variant", "text-align", "text-decoration",
        "text-indent", "text-transform", "letter-spacing", "word-spacing",
        "line-height", "white-space", "vertical-align", "direction", "unicode-bidi",
        "width", "height", "max-width", "min-width", "margin", "margin-top",
        "margin-right", "margin-bottom", "margin-left", "padding", "padding-top",
        "padding-right", "padding-bottom", "padding-left", "border", "border-top",
        "border-right", "border-bottom", "border-left", "border-color",
        "border-style", "border-width", "border-collapse", "border-spacing",
        "list-style-type", "display",
    }
)  # fmt: skip

URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})

_cleaner = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    url_relative="deny",
    filter_style_properties=set(STYLE_PROPERTIES),
    # Links open outside the viewer and tell the target nothing about it.
    link_rel="noopener noreferrer nofollow",
    set_tag_attribute_values={"a": {"target": "_blank"}},
)


def sanitize_html(html: str) -> str:
    """Return ``html`` with only the allowlisted tags, attributes, URLs and styles."""
    if not html:
        return ""

    return _cleaner.clean(html)


#: Elements that stand apart from what is around them by a blank line.
PARAGRAPH_TAGS = frozenset(
    {
        "blockquote", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p",
        "pre", "table", "ul",
    }
)  # fmt: skip
#: Elements that start a new line in the text; the rest flow inline.
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "caption", "center", "dd", "div", "dt",
        "footer", "header", "li", "section", "tr",
    }
)  # fmt: skip
CELL_TAGS = frozenset({"td", "th"})
SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "template"})

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.skipping = 0
        self.preformatted = 0
        #: Line breaks at the end of the text so far; block edges that meet add
        #: no more than one blank line, however deeply the blocks nest.
        self.newlines = 2

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._mark(tag, opening=True)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SKIPPED_TAGS:
            self._mark(tag, opening=True)

    def handle_endtag(self, tag: str) -> None:
        self._mark(tag, opening=False)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return

        if not self.preformatted:
            # Source line breaks are layout of the HTML, not of the text.
            data = data.replace("\r", " ").replace("\n", " ")
        if data.strip():
            self.newlines = len(data) - len(data.rstrip("\n"))
        self.pieces.append(data)

    def _mark(self, tag: str, opening: bool) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping = max(0, self.skipping + (1 if opening else -1))
        elif tag == "br":
            self.pieces.append("\n")
            self.newlines += 1
        elif tag in PARAGRAPH_TAGS:
            if tag == "pre":
                self.preformatted = max(0, self.preformatted + (1 if opening else -1))
            self._break(2)
        elif tag in BLOCK_TAGS:
            self._break(1)
        elif tag in CELL_TAGS and opening:
            self.pieces.append(" ")

    def _break(self, lines: int) -> None:
        if self.newlines < lines:
            self.pieces.append("\n" * (lines - self.newlines))
            self.newlines = lines


def html_to_text(html: str) -> str:
    """Return the readable text of ``html``: a line per block, cells side by side.

    Cheap on purpose: no layout, no link targets. It is meant for sanitized HTML
    (search, previews, the body hash) and copes with broken markup as the stdlib
    parser does.
    """
    if not html:
        return ""

    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    text = "".join(collector.pieces)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))

    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
