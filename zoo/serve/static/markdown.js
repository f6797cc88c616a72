// A small Markdown renderer for the model cards and the weights table: headings, paragraphs,
// lists, tables, fenced code, code spans, bold, italics, links and images.
// It builds DOM nodes and sets only textContent and vetted attributes, so nothing in the
// Markdown is ever parsed as HTML: raw HTML shows as text, and comments are dropped.
"use strict";

(function () {
  const INLINE = new RegExp(
    [
      "(`+)([\\s\\S]*?)\\1", // code span: 1 fence, 2 code
      "!\\[([^\\]]*)\\]\\(([^)\\s]+)\\)", // image: 3 alt, 4 src
      "\\[([^\\]]+)\\]\\(([^)\\s]+)\\)", // link: 5 text, 6 href
      "\\*\\*(.+?)\\*\\*", // bold: 7
      "\\*([^*\\s](?:[^*]*[^*\\s])?)\\*", // italics: 8
    ].join("|"),
    "g",
  );
  const LOCAL_IMAGE = /^[\w.-]+\.png$/;
  const CARD_LINK = /^(?:zoo\/weights\/published\/)?([\w.-]+)\.md$/;

  function el(tag, text) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Cards name their curve as a bare file next to them; the server serves those at /curves/.
  function imageSource(src, options) {
    return LOCAL_IMAGE.test(src) ? options.imageBase + src : null;
  }

  // Links to other cards stay on the page; web links open outside; anything else is text.
  function linkTarget(href) {
    const card = CARD_LINK.exec(href);
    if (card) return { href: "#card-" + card[1], external: false };
    if (/^#[\w.-]+$/.test(href)) return { href, external: false };
    if (/^https?:\/\//i.test(href)) return { href, external: true };
    return null;
  }

  function inline(text, options) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) fragment.append(text.slice(last, m.index));
      fragment.append(inlineToken(m, options));
      last = m.index + m[0].length;
    }
    if (last < text.length) fragment.append(text.slice(last));
    return fragment;
  }

  function inlineToken(m, options) {
    if (m[1] !== undefined) return el("code", m[2].trim());
    if (m[3] !== undefined) {
      const src = imageSource(m[4], options);
      if (!src) return document.createTextNode(m[3]);
      const img = el("img");
      img.src = src;
      img.alt = m[3];
      img.loading = "lazy";
      return img;
    }
    if (m[5] !== undefined) {
      const target = linkTarget(m[6]);
      if (!target) return inline(m[5], options);
      const a = el("a");
      a.href = target.href;
      if (target.external) {
        a.target = "_blank";
        a.rel = "noopener noreferrer";
      }
      a.append(inline(m[5], options));
      return a;
    }
    const node = el(m[7] !== undefined ? "strong" : "em");
    node.append(inline(m[7] !== undefined ? m[7] : m[8], options));
    return node;
  }

  // Split a table row on pipes outside code spans; `\|` is a literal pipe.
  function cells(line) {
    const body = line.trim().replace(/^\|/, "").replace(/\|$/, "");
    const out = [];
    let cell = "";
    let inCode = false;
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c === "\\" && body[i + 1] === "|") {
        cell += "|";
        i++;
      } else if (c === "`") {
        inCode = !inCode;
        cell += c;
      } else if (c === "|" && !inCode) {
        out.push(cell.trim());
        cell = "";
      } else {
        cell += c;
      }
    }
    out.push(cell.trim());
    return out;
  }

  const isTableRule = (line) => /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(line);
  const isListItem = (line) => /^\s*(?:[-*+]|\d+[.)])\s+/.test(line);
  const isFence = (line) => /^\s*```/.test(line);
  const isHeading = (line) => /^#{1,6}\s/.test(line);

  function table(lines, i, options) {
    const header = cells(lines[i]);
    const tableEl = el("table");
    if (header.some((c) => c !== "")) {
      const row = el("tr");
      for (const c of header) row.appendChild(el("th")).append(inline(c, options));
      tableEl.appendChild(el("thead")).append(row);
    }
    const tbody = tableEl.appendChild(el("tbody"));
    i += 2;
    for (; i < lines.length && lines[i].trim().startsWith("|"); i++) {
      const row = tbody.appendChild(el("tr"));
      for (const c of cells(lines[i])) row.appendChild(el("td")).append(inline(c, options));
    }
    const wrap = el("div");
    wrap.className = "table-wrap";
    wrap.append(tableEl);
    return [wrap, i];
  }

  function list(lines, i, options) {
    const ordered = /^\s*\d/.test(lines[i]);
    const listEl = el(ordered ? "ol" : "ul");
    for (; i < lines.length && isListItem(lines[i]); i++) {
      const item = lines[i].replace(/^\s*(?:[-*+]|\d+[.)])\s+/, "");
      listEl.appendChild(el("li")).append(inline(item, options));
    }
    return [listEl, i];
  }

  function code(lines, i) {
    const language = lines[i].trim().slice(3).trim();
    const body = [];
    for (i++; i < lines.length && !isFence(lines[i]); i++) body.push(lines[i]);
    const pre = el("pre");
    const codeEl = pre.appendChild(el("code", body.join("\n")));
    if (/^[\w-]+$/.test(language)) codeEl.dataset.language = language;
    return [pre, i + 1];
  }

  function comment(lines, i) {
    while (i < lines.length && !lines[i].includes("-->")) i++;
    return i + 1;
  }

  function paragraph(lines, i, options) {
    const text = [];
    for (; i < lines.length && startsParagraphLine(lines, i); i++) text.push(lines[i].trim());
    const p = el("p");
    p.append(inline(text.join(" "), options));
    return [p, i];
  }

  function startsParagraphLine(lines, i) {
    const line = lines[i];
    return (
      line.trim() !== "" &&
      !isHeading(line) &&
      !isFence(line) &&
      !isListItem(line) &&
      !line.trim().startsWith("<!--") &&
      !(line.trim().startsWith("|") && i + 1 < lines.length && isTableRule(lines[i + 1]))
    );
  }

  /**
   * Render Markdown as a DocumentFragment.
   * options.headingOffset: added to heading levels (a card's "#" under the page's h2).
   * options.imageBase: the URL prefix for bare image file names.
   */
  function renderMarkdown(text, options) {
    options = Object.assign({ headingOffset: 0, imageBase: "/curves/" }, options);
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    const fragment = document.createDocumentFragment();
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      let node = null;
      if (line.trim() === "") {
        i++;
      } else if (line.trim().startsWith("<!--")) {
        i = comment(lines, i);
      } else if (isHeading(line)) {
        const level = Math.min(6, /^#+/.exec(line)[0].length + options.headingOffset);
        node = el("h" + level);
        node.append(inline(line.replace(/^#+\s+/, "").trim(), options));
        i++;
      } else if (isFence(line)) {
        [node, i] = code(lines, i);
      } else if (line.trim().startsWith("|") && i + 1 < lines.length && isTableRule(lines[i + 1])) {
        [node, i] = table(lines, i, options);
      } else if (isListItem(line)) {
        [node, i] = list(lines, i, options);
      } else {
        [node, i] = paragraph(lines, i, options);
      }
      if (node) fragment.append(node);
    }
    return fragment;
  }

  window.renderMarkdown = renderMarkdown;
})();
