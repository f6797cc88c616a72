"""The weights' cards and table as HTML for the page, rendered by markdown-it-py.

Raw HTML is off, so anything HTML-like in a card (tags, attributes, comments) is escaped text;
the HTML comes only from markdown-it's own rules. On top of that, links and images pass an
allow-list of what the page can use: links to other cards (`zoo/weights/published/<key>.md`
or a bare `<key>.md`) become the page's `#card-<key>` anchors, `#anchors` stay, web links open
outside the page, and bare `<name>.png` images (the training curves next to each card) are
served from `/curves/`. Any other link keeps only its text, any other image only its alt text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

CARD_LINK = re.compile(r"(?:zoo/weights/published/)?(?P<key>[\w.-]+)\.md")
ANCHOR = re.compile(r"#[\w.-]+")
WEB_LINK = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)
LOCAL_IMAGE = re.compile(r"[\w.-]+\.png")
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
ALIGN = re.compile(r"text-align:(left|right|center)")
LANGUAGE = re.compile(r"[\w+-]+")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.add_render_rule("table_open", lambda *_: '<div class="table-wrap"><table>\n')
    md.add_render_rule("table_close", lambda *_: "</table></div>\n")
    return md


def render_markdown(text: str, heading_offset: int = 0, image_base: str = "/curves/") -> str:
    """Markdown as safe HTML for the page; `heading_offset` is added to heading levels (a
    card's `#` under the page's `h2`), `image_base` prefixes bare image file names."""
    md = _parser()
    tokens = _drop_comments(md.parse(text))
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + heading_offset)}"
        elif token.type in ("th_open", "td_open"):
            _alignment_as_class(token)
        elif token.type == "fence" and not LANGUAGE.fullmatch(token.info.strip()):
            token.info = ""  # only a plain language name becomes the code's class
        elif token.type == "inline" and token.children:
            token.children = _vetted_inline(token.children, image_base)
    return md.renderer.render(tokens, md.options, {})


def _drop_comments(tokens: list[Token]) -> list[Token]:
    # With raw HTML off, a block of `<!-- ... -->` (the cards' "generated, do not edit" note)
    # would show as text; leave such paragraphs out.
    kept: list[Token] = []
    i = 0
    while i < len(tokens):
        if (
            tokens[i].type == "paragraph_open"
            and i + 2 < len(tokens)
            and COMMENT.fullmatch(tokens[i + 1].content.strip())
        ):
            i += 3
            continue
        kept.append(tokens[i])
        i += 1
    return kept


def _alignment_as_class(token: Token) -> None:
    # markdown-it aligns table cells with a style attribute, which the page's Content-Security-
    # Policy (style-src 'self') refuses: use a class instead.
    style = token.attrs.pop("style", None)
    match = ALIGN.fullmatch(str(style)) if style else None
    if match:
        token.attrSet("class", f"align-{match[1]}")


def _vetted_inline(children: list[Token], image_base: str) -> list[Token]:
    out: list[Token] = []
    dropped_link = False
    for token in children:
        if token.type == "link_open":
            href = _link_target(str(token.attrGet("href") or ""))
            dropped_link = href is None
            if dropped_link:
                continue
            token.attrs = {"href": href}
            if WEB_LINK.fullmatch(href):
                token.attrs |= {"target": "_blank", "rel": "noopener noreferrer"}
        elif token.type == "link_close" and dropped_link:
            dropped_link = False
            continue
        elif token.type == "image":
            token = _vetted_image(token, image_base)
        out.append(token)
    return out


def _link_target(href: str) -> str | None:
    card = CARD_LINK.fullmatch(href)
    if card:
        return f"#card-{card['key']}"
    if ANCHOR.fullmatch(href) or WEB_LINK.fullmatch(href):
        return href
    return None


def _vetted_image(token: Token, image_base: str) -> Token:
    src = str(token.attrGet("src") or "")
    if not LOCAL_IMAGE.fullmatch(src):
        return Token("text", "", 0, content=token.content)
    token.attrs = {"src": image_base + src, "alt": "", "loading": "lazy"}
    return token
