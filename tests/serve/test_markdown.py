"""The cards' HTML (markdown-it-py, raw HTML off, links and images allow-listed): what the page
needs renders, and a card holding scripts, `javascript:` links and HTML attributes renders inert.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from zoo.serve.markdown import render_markdown
from zoo.weights.table import default_table

# Every tag and attribute the renderer may produce; anything else is a hole.
ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "pre", "code", "strong", "em",
    "a", "img", "div", "table", "thead", "tbody", "tr", "th", "td", "br", "hr", "blockquote",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "target", "rel"},
    "img": {"src", "alt", "loading"},
    "div": {"class"},
    "th": {"class"},
    "td": {"class"},
    "code": {"class"},
    "ol": {"start"},
}

HOSTILE_CARD = """\
<!-- a comment -->
# Evil <script>alert(1)</script>

<script>alert("block")</script>
<img src=x onerror=alert(1)>
<a href="javascript:alert(1)" onclick="alert(2)">click</a>
<div style="position:fixed" onmouseover="alert(3)">hover</div>
<iframe src="https://example.com"></iframe>
<svg onload=alert(4)></svg>

[js](javascript:alert(5)) [JS](JaVaScRiPt:alert(6)) [tab](java&#x09;script:alert(7))
[data](data:text/html;base64,PHNjcmlwdD4=) [vb](vbscript:msgbox(8)) [file](file:///etc/passwd)
[relative](../../secrets.txt) [quote](https://ok.example/"onmouseover="alert(9))
<javascript:alert(10)> ![img](javascript:alert(11)) ![remote](https://example.com/x.png)
![evil "name](x.png"onerror="alert(12))

| a <b onclick=alert(13)>b</b> | c |
|:--|--:|
| [x](javascript:alert(14)) | <style>*{display:none}</style> |

```js" onclick="alert(15)
</code><script>alert(16)</script>
```
"""


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text += data


def parsed(html: str) -> Elements:
    """The HTML as a browser's parser would read its tags."""
    elements = Elements()
    elements.feed(html)
    elements.close()
    return elements


def assert_inert(html: str) -> Elements:
    """Only allowed tags and attributes, and every URL one the page serves or a web link."""
    elements = parsed(html)
    for tag, attributes in elements.tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        assert set(attributes) <= ALLOWED_ATTRIBUTES.get(tag, set()), (tag, attributes)
        for name in ("href", "src"):
            url = attributes.get(name)
            if url is not None:
                assert url.startswith(("#", "/curves/", "https://", "http://")), url
        if tag == "a" and attributes.get("href", "").startswith("http"):
            assert attributes["rel"] == "noopener noreferrer" and attributes["target"] == "_blank"
    return elements


def test_a_hostile_card_renders_inert() -> None:
    html = render_markdown(HOSTILE_CARD, heading_offset=2)
    elements = assert_inert(html)
    tags = [tag for tag, _ in elements.tags]
    for tag in ("script", "iframe", "svg", "style"):
        assert tag not in tags
    # No event handler and no script URL anywhere, as attributes or as links.
    for _, attributes in elements.tags:
        assert not any(name.startswith("on") for name in attributes)
        assert "javascript" not in " ".join(str(v) for v in attributes.values()).lower()
    # What was HTML shows as text, so a reader sees what the card held.
    assert "<script>alert(1)</script>" in elements.text
    assert '<a href="javascript:alert(1)" onclick="alert(2)">click</a>' in elements.text
    assert "a comment" not in elements.text  # comments are left out
    # Links that go nowhere the page can follow keep only their text.
    assert "relative" in elements.text and "../../secrets.txt" not in html
    links = [attributes["href"] for tag, attributes in elements.tags if tag == "a"]
    assert links == ["https://ok.example/%22onmouseover=%22alert(9)"], links
    images = [attributes for tag, attributes in elements.tags if tag == "img"]
    assert images == [], images  # only bare .png names are images; these were not
    assert "remote" in elements.text  # a remote image keeps its alt text
    assert ("h3", {}) in elements.tags  # "# Evil" under the page's h2
    code = [attributes for tag, attributes in elements.tags if tag == "code"]
    assert code == [{}], code  # a code block whose language is not a plain name gets no class


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("[card](zoo/weights/published/resnet_mnist.mnist_v1.md)", "#card-resnet_mnist.mnist_v1"),
        ("[card](cnn_mnist.mnist_v1.md)", "#card-cnn_mnist.mnist_v1"),
        ("[here](#card-cnn_mnist.mnist_v1)", "#card-cnn_mnist.mnist_v1"),
        ("[web](https://pytorch.org/docs/)", "https://pytorch.org/docs/"),
    ],
)
def test_links_the_page_can_follow(markdown: str, expected: str) -> None:
    elements = assert_inert(render_markdown(markdown))
    assert [a["href"] for tag, a in elements.tags if tag == "a"] == [expected]


def test_bare_png_is_a_curve_and_alignment_is_a_class() -> None:
    html = render_markdown("![training curves](k.v1.png)\n\n| a | b |\n|:-:|--:|\n| 1 | 2 |")
    elements = assert_inert(html)
    assert ("img", {"src": "/curves/k.v1.png", "alt": "training curves", "loading": "lazy"}) in (
        elements.tags
    )
    assert ("th", {"class": "align-center"}) in elements.tags
    assert ("td", {"class": "align-right"}) in elements.tags
    assert "style" not in html


def test_every_published_card_renders_within_the_allow_list() -> None:
    table = default_table()
    for weight in table.weights():
        card = table.card_path(weight).read_text(encoding="utf-8")
        elements = assert_inert(render_markdown(card, heading_offset=2))
        assert ("h3", {}) in elements.tags and ("table", {}) in elements.tags
