// Safe markdown: text from the server (model output, widgets, notices) becomes DOM nodes built
// one by one. Raw HTML is shown as text, links keep to http(s)/mailto and open in a new tab
// without a referrer, and markdown images become links (an image a model names would otherwise
// be fetched unasked: a way to leak a conversation through its URL).

import { h } from "./dom.js";

const SAFE_LINK = /^(https?:|mailto:)/i;

/** Render markdown into a DocumentFragment. `opts.copyLabel` labels the code-copy buttons. */
export function renderMarkdown(text, opts = {}) {
  const frag = document.createDocumentFragment();
  renderBlocks(String(text || "").replace(/\r\n?/g, "\n").split("\n"), frag, { ...opts, headings: { prev: 2 } });
  return frag;
}

/**
 * A container that re-renders streamed markdown cheaply: the text is cut into chunks at blank
 * lines outside code fences; chunks that did not change keep their nodes, only the tail is redone.
 */
export class MarkdownView {
  constructor(el, opts = {}) {
    this.el = el;
    this.opts = opts;
    this.chunks = [];
    this.text = "";
  }

  update(text) {
    if (text === this.text) return;
    this.text = text;
    const parts = splitChunks(String(text || "").replace(/\r\n?/g, "\n"));
    let keep = 0;
    while (keep < parts.length - 1 && keep < this.chunks.length && this.chunks[keep].src === parts[keep]) keep += 1;
    // Streaming fast path: a plain-text paragraph that only grew gets the new text appended,
    // so the browser re-lays and repaints the new words, not the whole paragraph.
    const last = this.chunks[keep];
    if (keep === parts.length - 1 && this.chunks.length === parts.length && last && last.paragraph) {
      const next = parts[keep];
      // A paragraph shows its line trimmed (one line: plain text has no newline).
      const shown = last.src.trim();
      if (next.trimStart().startsWith(shown) && isPlainParagraph(next)) {
        last.paragraph.append(next.trim().slice(shown.length));
        last.src = next;
        return;
      }
    }
    for (const chunk of this.chunks.splice(keep)) for (const node of chunk.nodes) node.remove();
    let prev = keep ? this.chunks[keep - 1].headingAfter : 2;
    for (let i = keep; i < parts.length; i += 1) {
      const frag = document.createDocumentFragment();
      const headings = { prev };
      renderBlocks(parts[i].split("\n"), frag, { ...this.opts, headings });
      prev = headings.prev;
      const nodes = [...frag.childNodes];
      this.el.append(frag);
      const paragraph = nodes.length === 1 && nodes[0].nodeName === "P" && isPlainParagraph(parts[i]) ? nodes[0] : null;
      this.chunks.push({ src: parts[i], nodes, headingAfter: prev, paragraph });
    }
  }
}

/** Text that renders as one paragraph of plain text, whatever is appended to it as plain text. */
function isPlainParagraph(src) {
  return (
    src.length >= 8 &&
    !/[\\`*_~[\]<>!|#\n]|https?:|mailto:/i.test(src) &&
    !/^\s*([-+>]|\d{1,9}[.)](\s|$))/.test(src)
  );
}

function splitChunks(text) {
  const lines = text.split("\n");
  const parts = [];
  let current = [];
  let fence = null;
  for (const line of lines) {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (marker) {
      if (!fence) fence = marker[1][0];
      else if (marker[1][0] === fence) fence = null;
    }
    if (!fence && line.trim() === "" && current.length) {
      parts.push(current.join("\n"));
      current = [];
    } else if (fence || line.trim() !== "") {
      current.push(line);
    }
  }
  if (current.length || !parts.length) parts.push(current.join("\n"));
  return parts;
}

const RE = {
  fence: /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/,
  heading: /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/,
  hr: /^\s{0,3}([-*_])(\s*\1){2,}\s*$/,
  quote: /^\s{0,3}>\s?/,
  list: /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/,
  tableSep: /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/,
};

function renderBlocks(lines, parent, opts) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") {
      i += 1;
      continue;
    }
    let m = RE.fence.exec(line);
    if (m) {
      const marker = m[1];
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trimStart().startsWith(marker)) body.push(lines[i++]);
      i += 1;
      parent.append(codeBlock(body.join("\n"), m[2], opts));
      continue;
    }
    if ((m = RE.heading.exec(line))) {
      // Headings in answers sit below the component's title (h2): from h3 down, never skipping
      // a level (a "##" after the title is an h3, a "###" after that an h4).
      const state = opts.headings || { prev: 2 };
      const level = Math.max(3, Math.min(m[1].length + 2, state.prev + 1, 6));
      state.prev = level;
      parent.append(inline(h(`h${level}`, { class: "md-h" }), m[2]));
      i += 1;
      continue;
    }
    if (RE.hr.test(line)) {
      parent.append(h("hr"));
      i += 1;
      continue;
    }
    if (RE.quote.test(line)) {
      const body = [];
      while (i < lines.length && lines[i].trim() !== "" && (RE.quote.test(lines[i]) || body.length)) {
        body.push(lines[i].replace(RE.quote, ""));
        i += 1;
      }
      const quote = h("blockquote");
      renderBlocks(body, quote, opts);
      parent.append(quote);
      continue;
    }
    if (RE.list.test(line)) {
      i = list(lines, i, parent, opts);
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && RE.tableSep.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      i = table(lines, i, parent);
      continue;
    }
    const para = [];
    while (
      i < lines.length &&
      lines[i].trim() !== "" &&
      !(para.length && (RE.fence.test(lines[i]) || RE.heading.test(lines[i]) || RE.quote.test(lines[i]) || RE.list.test(lines[i])))
    ) {
      para.push(lines[i].trim());
      i += 1;
    }
    parent.append(inline(h("p"), para.join("\n")));
  }
}

function codeBlock(code, lang, opts) {
  const codeEl = h("code", { text: code });
  if (lang) codeEl.className = `language-${lang.replace(/[^\w+#.-]/g, "")}`;
  // Focusable so a keyboard user can scroll a wide block (axe: scrollable-region-focusable).
  const pre = h("pre", { tabindex: "0" }, codeEl);
  const wrap = h("div", { class: "md-code" }, pre);
  if (opts.copyLabel && navigator.clipboard) {
    wrap.prepend(
      h("button", {
        type: "button",
        class: "md-copy",
        text: opts.copyLabel,
        onclick: () => navigator.clipboard.writeText(code).catch(() => {}),
      }),
    );
  }
  return wrap;
}

function list(lines, start, parent, opts) {
  const first = RE.list.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const el = h(ordered ? "ol" : "ul");
  if (ordered) {
    const n = Number.parseInt(first[2], 10);
    if (n !== 1) el.setAttribute("start", String(n));
  }
  let i = start;
  let item = null;
  let body = [];
  const flush = () => {
    if (!item) return;
    const [head, ...rest] = body;
    inline(item, head);
    if (rest.length) renderBlocks(rest, item, opts);
    el.append(item);
  };
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") break;
    const m = RE.list.exec(line);
    if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
      flush();
      item = h("li");
      body = [m[3]];
    } else if (m && m[1].length < indent) {
      break;
    } else if (item) {
      // Nested list or continuation: strip the item's indentation.
      body.push(line.slice(Math.min(line.length - line.trimStart().length, indent + 2)));
    } else {
      break;
    }
    i += 1;
  }
  flush();
  parent.append(el);
  return i;
}

function cells(line) {
  let text = line.trim();
  if (text.startsWith("|")) text = text.slice(1);
  if (text.endsWith("|") && !text.endsWith("\\|")) text = text.slice(0, -1);
  return text.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

function table(lines, start, parent) {
  const head = cells(lines[start]);
  const aligns = cells(lines[start + 1]).map((c) =>
    c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : c.startsWith(":") ? "left" : "",
  );
  const thead = h("thead", null, h("tr", null, head.map((c, n) => alignCell(inline(h("th", { scope: "col" }), c), aligns[n]))));
  const tbody = h("tbody");
  let i = start + 2;
  while (i < lines.length && lines[i].includes("|") && lines[i].trim() !== "") {
    const row = cells(lines[i]);
    tbody.append(h("tr", null, head.map((_, n) => alignCell(inline(h("td"), row[n] || ""), aligns[n]))));
    i += 1;
  }
  parent.append(h("div", { class: "md-table", tabindex: "0" }, h("table", null, thead, tbody)));
  return i;
}

function alignCell(cell, align) {
  if (align) cell.style.setProperty("text-align", align);
  return cell;
}

// One pass over inline syntax; the earliest match wins. Groups:
// 1-2 code span | 3-5 link/image | 6 <autolink> | 7 bare URL | 8-9 strong | 10-11 emphasis |
// 12 strikethrough | 13 escape | 14 newline
const INLINE =
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|(!?)\[((?:[^\]\\]|\\.)*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)|<((?:https?:\/\/|mailto:)[^>\s]+)>|\b(https?:\/\/[^\s<]*[^\s<.,;:!?)\]'"*_])|(\*\*|__)(?=\S)([\s\S]*?\S)\8|([*_])(?=[^\s*_])([\s\S]*?[^\s\\])\10|~~(?=\S)([\s\S]*?\S)~~|\\([\\`*_{}[\]()#+\-.!~|>])|(\n)/g;

/** Append `text`'s inline markdown to `el`; returns `el`. */
export function inline(el, text) {
  const re = new RegExp(INLINE.source, "g");
  let pos = 0;
  let buffer = "";
  const flushText = () => {
    if (buffer) el.append(buffer);
    buffer = "";
  };
  let m;
  while ((m = re.exec(text))) {
    const at = m.index;
    // `_` emphasis only at word boundaries (snake_case stays text).
    if ((m[8] === "__" || m[10] === "_") && at > 0 && /\w/.test(text[at - 1])) {
      re.lastIndex = at + 1;
      continue;
    }
    buffer += text.slice(pos, at);
    pos = re.lastIndex;
    if (m[1]) {
      flushText();
      el.append(h("code", { text: m[2].replace(/^ (.*) $/, "$1") }));
    } else if (m[4] !== undefined && m[5] !== undefined) {
      flushText();
      const label = m[4].replace(/\\(.)/g, "$1");
      el.append(link(m[5], label, m[3] === "!"));
    } else if (m[6] || m[7]) {
      flushText();
      const url = m[6] || m[7];
      el.append(link(url, url, false));
    } else if (m[8]) {
      flushText();
      el.append(inline(h("strong"), m[9]));
    } else if (m[10]) {
      flushText();
      el.append(inline(h("em"), m[11]));
    } else if (m[12]) {
      flushText();
      el.append(inline(h("del"), m[12]));
    } else if (m[13]) {
      buffer += m[13];
    } else if (m[14]) {
      flushText();
      el.append(h("br"));
    }
  }
  buffer += text.slice(pos);
  flushText();
  return el;
}

function link(url, label, isImage) {
  const text = isImage ? label || url : label;
  if (!SAFE_LINK.test(url)) return document.createTextNode(text);
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", class: isImage ? "md-image-link" : null, text });
}

/** Plain text of markdown (for the live region and copy): markup characters dropped. */
export function plainText(text) {
  return String(text || "")
    .replace(/```[\s\S]*?```/g, (block) => block.replace(/```\w*/g, ""))
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[*_~`#>]+/g, "")
    .replace(/\s+/g, " ")
    .trim();
}
