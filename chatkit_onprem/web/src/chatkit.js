// <chatkit-onprem>: a ChatKit web component served by chatkit-onprem itself (no CDN, no telemetry,
// no third-party code). Options, methods and events follow the official @openai/chatkit client,
// so an app switches with a small diff (docs/web-component.md).
//
//   <script type="module" src="https://chat.internal/ui/chatkit.js"></script>
//   <chatkit-onprem id="chat"></chatkit-onprem>
//   <script type="module">document.getElementById("chat").setOptions({api: {url: "https://chat.internal/chatkit"}})</script>

import { Api, ChatKitError, describeError, withoutIds } from "./api.js";
import { frameScheduler, h, icon, setStyle, uid } from "./dom.js";
import { translator } from "./i18n.js";
import { ItemView, attachmentList, isVisible, messageText } from "./items.js";
import { plainText, renderMarkdown } from "./markdown.js";
import { safeCss } from "./widgets.js";
// The stylesheet is part of the bundle (scripts/build-web loads it as text): no request on the
// critical path. It is parsed once, when this module runs, and shared by every instance as a
// constructed stylesheet. Without constructable stylesheets (Firefox < 101, Safari < 16.4) a
// <link> to the same file, served beside the bundle, is the fallback.
import STYLESHEET_TEXT from "./chatkit.css";

// Local performance marks (no network): apps can measure the component's own start-up.
performance.mark("chatkit-onprem:evaluate");

const THREAD_PAGE = 30;
const ITEM_PAGE = 50;
const NARROW_PX = 720;
const STORE_PREFIX = "chatkit-onprem:";
const RESUME_POLL_MS = 500;
const RESUME_MAX_MS = 15000;
const STYLESHEET = new URL("./chatkit.css", import.meta.url).href;
const sharedSheet = constructedSheet(STYLESHEET_TEXT);
/** Build id of this bundle: a digest of its sources, which scripts/build-web substitutes. */
export const VERSION = __CHATKIT_BUILD__;

function constructedSheet(css) {
  if (typeof CSSStyleSheet !== "function" || !("replaceSync" in CSSStyleSheet.prototype)) return null;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  return sheet;
}

const RADII = { pill: "999px", round: "16px", soft: "10px", sharp: "3px" };
const DENSITY = { compact: "3px", normal: "4px", spacious: "5px" };

/** Options with the official defaults filled in (setOptions replaces, never merges). */
function normalize(options) {
  const o = options || {};
  const theme = typeof o.theme === "string" ? { colorScheme: o.theme } : o.theme || {};
  const header = o.header || {};
  const history = o.history || {};
  const composer = o.composer || {};
  const attachments = composer.attachments || {};
  return {
    raw: o,
    api: o.api,
    locale: o.locale,
    frameTitle: o.frameTitle || null,
    initialThread: o.initialThread ?? null,
    onClientTool: typeof o.onClientTool === "function" ? o.onClientTool : null,
    theme,
    header: {
      enabled: header.enabled !== false,
      title: { enabled: !header.title || header.title.enabled !== false, text: header.title && header.title.text },
      leftAction: header.leftAction || null,
      rightAction: header.rightAction || null,
    },
    history: { enabled: history.enabled !== false, showDelete: history.showDelete !== false, showRename: history.showRename !== false },
    startScreen: { greeting: (o.startScreen && o.startScreen.greeting) || null, prompts: (o.startScreen && o.startScreen.prompts) || [] },
    actions: { feedback: Boolean(o.threadItemActions && o.threadItemActions.feedback), retry: Boolean(o.threadItemActions && o.threadItemActions.retry) },
    composer: {
      placeholder: composer.placeholder || null,
      attachments: {
        enabled: Boolean(attachments.enabled),
        maxSize: attachments.maxSize ?? 100 * 1024 * 1024,
        maxCount: attachments.maxCount ?? 10,
        accept: attachments.accept || null,
      },
      models: Array.isArray(composer.models) ? composer.models : [],
    },
    disclaimer: o.disclaimer && o.disclaimer.text ? o.disclaimer : null,
    onAction: o.widgets && typeof o.widgets.onAction === "function" ? o.widgets.onAction : null,
    autoScroll: Boolean(o.thread && o.thread.autoScroll),
  };
}

/** One thread's items and DOM. A stream writes only into its own view, current or not. */
class ThreadView {
  constructor(id) {
    this.id = id;
    this.thread = null;
    this.items = new Map();
    this.loaded = !id;
    this.after = null;
    this.hasMore = false;
    this.stream = null;
    this.more = h("button", { type: "button", class: "load-more", hidden: true });
    this.list = h("ol", { class: "items" });
    this.status = h("div", { class: "thread-status" });
    this.el = h("div", { class: "thread" }, this.more, this.list, this.status);
  }

  isEmpty() {
    return this.items.size === 0;
  }

  /** Items in display order (DOM order). */
  ordered() {
    return [...this.list.children].map((li) => this.items.get(li.dataset.itemId)).filter(Boolean);
  }
}

class ChatKitElement extends HTMLElement {
  #o = null;
  #t = translator("en");
  #api = null;
  #built = false;
  #whenBuilt;
  #resolveBuilt;
  #ui = {};
  #view = new ThreadView(null);
  #views = new Map();
  #threads = { list: [], after: null, hasMore: false };
  #draft = { attachments: [] };
  #historyOpen = null;
  #narrow = false;
  #atBottom = true;
  #autoTop = 0;
  #ready = false;
  #waitingForUploads = false;
  #styled = null;
  #resize = null;
  #schedule = frameScheduler(40, () => this.#follow());

  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    // Adopted at once, so :host's rules (display: block) hold when #build measures the host.
    if (sharedSheet) this.shadowRoot.adoptedStyleSheets = [sharedSheet];
    this.#whenBuilt = new Promise((resolve) => {
      this.#resolveBuilt = resolve;
    });
  }

  connectedCallback() {
    if (!this.#o && this.getAttribute("api-url")) {
      this.setOptions({ api: { url: this.getAttribute("api-url") }, locale: this.getAttribute("locale") || undefined });
    } else if (this.#o && !this.#built) this.#build(true);
    if (!this.#resize && typeof ResizeObserver === "function") {
      this.#resize = new ResizeObserver(() => this.#layout());
      this.#resize.observe(this);
    }
  }

  disconnectedCallback() {
    if (this.#resize) this.#resize.disconnect();
    this.#resize = null;
  }

  // ---- public API (names and shapes of @openai/chatkit) ------------------------------------

  /** Apply options. Like the official client, a full set every time (not merged). */
  setOptions(options) {
    const first = !this.#o;
    this.#o = normalize(options);
    this.#t = translator(this.#o.locale);
    try {
      this.#api = new Api(this.#o.api);
    } catch (err) {
      this.#api = null;
      this.#error(err);
    }
    if (this.isConnected) this.#build(first);
  }

  async focusComposer() {
    await this.#whenBuilt;
    this.#ui.input.focus();
  }

  async setThreadId(threadId) {
    await this.#whenBuilt;
    await this.#open(threadId || null);
  }

  async sendUserMessage(params = {}) {
    await this.#whenBuilt;
    if (params.newThread) await this.#open(null);
    if (this.#view.stream) throw new ChatKitError("an answer is streaming in this thread; try when it ends", { kind: "client" });
    const content = params.content || [{ type: "input_text", text: params.text || "" }];
    await this.#sendMessage({
      content,
      attachments: (params.attachments || []).map((a) => a.id),
      quoted: params.reply || null,
      model: params.model || null,
      toolChoice: params.toolChoice || null,
    });
  }

  async setComposerValue(params = {}) {
    await this.#whenBuilt;
    const { input } = this.#ui;
    if (params.text != null) input.value = params.text;
    else if (params.content) input.value = params.content.map((part) => part.text || "").join(" ");
    if (params.attachments) {
      this.#draft.attachments = params.attachments.map((a) => ({ ...a, status: "ready" }));
    }
    if (params.files) this.#addFiles(params.files);
    if (params.selectedModelId && this.#ui.model) this.#ui.model.value = params.selectedModelId;
    this.#renderDraft();
    this.#fitInput();
  }

  async fetchUpdates() {
    await this.#whenBuilt;
    await Promise.all([this.#refreshThreads(), this.#refreshView(this.#view)]);
  }

  async sendCustomAction(action, itemId) {
    await this.#whenBuilt;
    const view = this.#view;
    if (!view.id) throw new ChatKitError("sendCustomAction needs a thread", { kind: "client" });
    if (view.stream) throw new ChatKitError("an answer is streaming in this thread; try when it ends", { kind: "client" });
    await this.#stream(view, "threads.custom_action", { thread_id: view.id, item_id: itemId || null, action: { type: action.type, payload: action.payload ?? null } });
  }

  async showHistory() {
    await this.#whenBuilt;
    this.#setHistory(true);
  }

  async hideHistory() {
    await this.#whenBuilt;
    this.#setHistory(false);
  }

  // ---- events ----------------------------------------------------------------------------

  #emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  #log(name, data) {
    this.#emit("chatkit.log", { name, data });
  }

  #error(err) {
    const error = err instanceof Error ? err : new Error(String(err));
    this.#emit("chatkit.error", { error });
    return error;
  }

  // ---- shell -----------------------------------------------------------------------------

  #build(first) {
    const o = this.#o;
    const t = this.#t;
    const keepText = this.#ui.input ? this.#ui.input.value : "";
    const ui = (this.#ui = {});
    ui.announcer = h("div", { class: "sr-only", role: "status", "aria-live": "polite", "aria-atomic": "true" });
    ui.alerts = h("div", { class: "alerts" });
    ui.title = h("h2", { class: "title", id: uid("title") });
    ui.scroller = h("div", { class: "scroller", role: "region", tabindex: "0", "aria-label": t("messages") });
    ui.scroller.addEventListener("scroll", () => {
      const s = ui.scroller;
      this.#atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 48;
    });
    ui.start = h("div", { class: "start" });
    ui.scroller.append(ui.start);

    // History: a sidebar when wide, a drawer when narrow.
    ui.historyId = uid("history");
    ui.threadList = h("ul", { class: "thread-list" });
    ui.moreThreads = h("button", { type: "button", class: "load-more", text: t("loadMoreThreads"), hidden: true, onclick: () => this.#loadMoreThreads() });
    ui.closeHistory = h("button", { type: "button", class: "icon-button close-history", "aria-label": t("hideHistory"), title: t("hideHistory"), onclick: () => this.#setHistory(false, true) }, icon("close"));
    ui.history = h(
      "nav",
      { class: "history", id: ui.historyId, "aria-label": t("history") },
      h("div", { class: "history-head" }, h("p", { class: "history-title", text: t("history") }), ui.closeHistory),
      h("button", { type: "button", class: "new-chat", onclick: () => this.#newChat() }, icon("compose"), h("span", { text: t("newChat") })),
      ui.threadList,
      ui.moreThreads,
    );

    ui.toggle = h("button", { type: "button", class: "icon-button", "aria-controls": ui.historyId, onclick: () => this.#setHistory(!this.#historyIsOpen(), true) }, icon("history"));
    const headerAction = (action) =>
      action && h("button", { type: "button", class: "icon-button", "aria-label": String(action.icon).replace(/-/g, " "), title: String(action.icon).replace(/-/g, " "), onclick: () => action.onClick && action.onClick() }, icon(action.icon));
    ui.header = h(
      "div",
      { class: "header" },
      headerAction(o.header.leftAction),
      o.history.enabled ? ui.toggle : null,
      ui.title,
      h("button", { type: "button", class: "icon-button", "aria-label": t("newChat"), title: t("newChat"), onclick: () => this.#newChat() }, icon("compose")),
      headerAction(o.header.rightAction),
    );
    if (!o.header.enabled) ui.header.hidden = true;

    // Composer.
    ui.input = h("textarea", { class: "input", rows: 1, "aria-label": t("composerLabel"), placeholder: o.composer.placeholder || t("placeholder") });
    ui.input.value = keepText;
    ui.input.addEventListener("input", () => this.#fitInput());
    ui.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        if (!this.#view.stream) ui.form.requestSubmit();
      }
    });
    ui.input.addEventListener("paste", (ev) => {
      const files = [...((ev.clipboardData && ev.clipboardData.files) || [])];
      if (files.length && o.composer.attachments.enabled) {
        ev.preventDefault();
        this.#addFiles(files);
      }
    });
    ui.send = h("button", { type: "submit", class: "send icon-button primary" });
    ui.send.addEventListener("click", (ev) => {
      if (this.#view.stream) {
        ev.preventDefault();
        this.#stop();
      }
    });
    ui.drafts = h("div", { class: "drafts" });
    ui.composerError = h("div", { class: "composer-error" });
    ui.locked = h("p", { class: "locked", hidden: true });
    const tools = h("div", { class: "composer-row" });
    if (o.composer.attachments.enabled) {
      ui.file = h("input", { type: "file", multiple: true, hidden: true, tabindex: "-1" });
      const accept = o.composer.attachments.accept;
      if (accept) ui.file.setAttribute("accept", Object.entries(accept).flatMap(([mime, exts]) => [mime, ...(exts || [])]).join(","));
      ui.file.addEventListener("change", () => {
        this.#addFiles([...ui.file.files]);
        ui.file.value = "";
      });
      ui.attach = h("button", { type: "button", class: "icon-button", "aria-label": t("attach"), title: t("attach"), onclick: () => ui.file.click() }, icon("attach"));
      tools.append(ui.attach, ui.file);
    }
    tools.append(ui.input);
    if (o.composer.models.length) {
      const id = uid("model");
      ui.model = h("select", { id, class: "model" });
      for (const m of o.composer.models) ui.model.append(h("option", { value: m.id, text: m.label, disabled: Boolean(m.disabled), selected: Boolean(m.default), title: m.description }));
      tools.append(h("label", { class: "sr-only", for: id, text: t("model") }), ui.model);
    }
    tools.append(ui.send);
    ui.form = h("form", { class: "composer", "aria-label": t("composerLabel") }, ui.drafts, ui.composerError, ui.locked, tools);
    ui.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.#submitComposer();
    });
    ui.form.addEventListener("dragover", (ev) => {
      if (o.composer.attachments.enabled) ev.preventDefault();
    });
    ui.form.addEventListener("drop", (ev) => {
      if (!o.composer.attachments.enabled) return;
      ev.preventDefault();
      this.#addFiles([...((ev.dataTransfer && ev.dataTransfer.files) || [])]);
    });
    const disclaimer = o.disclaimer
      ? h("div", { class: `disclaimer md${o.disclaimer.highContrast ? " strong" : ""}` }, renderMarkdown(o.disclaimer.text))
      : null;

    ui.main = h("div", { class: "main" }, ui.header, ui.alerts, ui.scroller, ui.form, disclaimer, ui.announcer);
    // On a narrow screen the history is a drawer over the chat: a backdrop closes it.
    ui.backdrop = h("div", { class: "backdrop", hidden: true, onclick: () => this.#setHistory(false, true) });
    ui.root = h("div", { class: "ck", role: "region", "aria-label": o.frameTitle || t("chat"), lang: t.lang }, o.history.enabled ? ui.history : null, ui.backdrop, ui.main);
    ui.root.addEventListener("keydown", (ev) => this.#onKeydown(ev));
    this.#applyTheme(ui.root);
    // Measure the host before its new content is in: the layout this forces is then the host
    // page's alone, and the component's first layout happens once, in the next frame (not
    // forced here and again after every change below). The ResizeObserver corrects the rare
    // host whose width follows its content.
    const narrow = this.#measureNarrow();
    this.shadowRoot.replaceChildren(ui.root);
    this.#styled = this.#style(ui.root);

    this.#built = true;
    this.#layout(narrow);
    this.#attachView({ freshScroller: true });
    this.#renderThreads();
    this.#renderDraft();
    if (first) {
      this.#resolveBuilt();
      this.#start();
    }
  }

  /** Apply the stylesheet; the root stays invisible until it applies (no unstyled flash). */
  async #style(root) {
    if (sharedSheet) return; // adopted by the constructor
    root.style.setProperty("visibility", "hidden");
    await new Promise((resolve) => {
      this.shadowRoot.prepend(h("link", { rel: "stylesheet", href: STYLESHEET, onload: resolve, onerror: resolve }));
    });
    root.style.removeProperty("visibility");
  }

  /** First build: ready once the component is drawn and usable; history and thread load on. */
  async #start() {
    if (this.#o.history.enabled) this.#refreshThreads();
    if (this.#o.initialThread) this.#open(this.#o.initialThread);
    await this.#styled;
    this.#ready = true;
    performance.mark("chatkit-onprem:ready");
    this.#emit("chatkit.ready");
    this.#log("ready", { version: VERSION });
  }

  #applyTheme(root) {
    const theme = this.#o.theme;
    const scheme = theme.colorScheme === "dark" ? "dark" : "light";
    root.dataset.scheme = scheme;
    const color = theme.color || {};
    const typo = theme.typography || {};
    setStyle(root, {
      "--ck-accent": color.accent && safeCss(color.accent.primary),
      "--ck-bg": color.surface && safeCss(color.surface.background),
      "--ck-fg": color.surface && safeCss(color.surface.foreground),
      "--ck-gray-hue": color.grayscale && Number(color.grayscale.hue),
      "--ck-gray-tint": color.grayscale && `${Number(color.grayscale.tint) * 2}%`,
      "--ck-radius": RADII[theme.radius],
      "--ck-space": DENSITY[theme.density],
      "--ck-font-size": typo.baseSize && `${Number(typo.baseSize)}px`,
      "--ck-font": typo.fontFamily && typo.fontFamily.replace(/[;{}]/g, ""),
      "--ck-font-mono": typo.fontFamilyMono && typo.fontFamilyMono.replace(/[;{}]/g, ""),
    });
    for (const font of typo.fontSources || []) {
      // Fonts the app names explicitly (its own URLs); nothing is loaded by default.
      try {
        const face = new FontFace(font.family, `url(${JSON.stringify(font.src)})`, { weight: String(font.weight || "normal"), style: font.style || "normal", display: font.display || "swap", unicodeRange: font.unicodeRange || "U+0-10FFFF" });
        document.fonts.add(face);
        face.load().catch(() => {});
      } catch {
        // an invalid descriptor: ignore that font
      }
    }
  }

  #measureNarrow() {
    return this.getBoundingClientRect().width < NARROW_PX;
  }

  #layout(narrow = this.#measureNarrow()) {
    if (!this.#built) return;
    if (narrow !== this.#narrow || this.#historyOpen === null) {
      this.#narrow = narrow;
      this.#ui.root.classList.toggle("narrow", narrow);
      this.#historyOpen = !narrow;
    }
    this.#applyHistory();
  }

  #historyIsOpen() {
    return Boolean(this.#historyOpen && this.#o.history.enabled);
  }

  #setHistory(open, fromUser = false) {
    this.#historyOpen = open;
    this.#applyHistory();
    if (!fromUser) return;
    if (open && this.#narrow) {
      const target = this.#ui.threadList.querySelector("[aria-current='true']") || this.#ui.history.querySelector(".new-chat");
      if (target) target.focus();
    } else if (!open) this.#ui.toggle.focus();
  }

  #applyHistory() {
    const ui = this.#ui;
    if (!this.#o.history.enabled) return;
    const open = this.#historyIsOpen();
    ui.history.hidden = !open;
    ui.root.classList.toggle("history-open", open);
    // While the drawer covers the chat, the chat is inert: Tab stays in the drawer.
    const drawer = open && this.#narrow;
    ui.backdrop.hidden = !drawer;
    ui.main.inert = drawer;
    ui.closeHistory.hidden = !this.#narrow;
    ui.toggle.setAttribute("aria-expanded", String(open));
    const label = this.#t(open ? "hideHistory" : "showHistory");
    ui.toggle.setAttribute("aria-label", label);
    ui.toggle.title = label;
  }

  #onKeydown(ev) {
    if (ev.key === "Tab" && this.#narrow && this.#historyIsOpen()) {
      // The drawer covers an inert chat: Tab cycles within it (Escape closes it).
      const items = [...this.#ui.history.querySelectorAll("button, input")].filter((el) => !el.disabled && el.offsetParent !== null);
      const active = this.shadowRoot.activeElement;
      const edge = ev.shiftKey ? items[0] : items[items.length - 1];
      if (items.length && (active === edge || !this.#ui.history.contains(active))) {
        ev.preventDefault();
        (ev.shiftKey ? items[items.length - 1] : items[0]).focus();
      }
      return;
    }
    if (ev.key !== "Escape") return;
    if (this.#narrow && this.#historyIsOpen()) {
      ev.preventDefault();
      this.#setHistory(false, true);
      return;
    }
    const confirm = this.#ui.root.querySelector(".confirm");
    if (confirm) {
      ev.preventDefault();
      confirm._cancel();
      return;
    }
    if (this.#view.stream && this.#view.stream.allowCancel) {
      ev.preventDefault();
      this.#stop();
    }
  }

  // ---- header, start screen, composer state ------------------------------------------------

  #renderHeader() {
    const o = this.#o;
    const thread = this.#view.thread;
    const text = o.header.title.text || (thread && thread.title) || (this.#view.id ? this.#t("untitled") : this.#t("newChat"));
    this.#ui.title.textContent = text;
    this.#ui.title.hidden = !o.header.title.enabled;
  }

  #renderStart() {
    const { start } = this.#ui;
    const show = !this.#view.id && this.#view.isEmpty();
    start.hidden = !show;
    if (!show) return;
    const o = this.#o;
    const prompts = o.startScreen.prompts.map((p) =>
      h("li", null, h("button", { type: "button", class: "prompt", onclick: () => this.#sendPrompt(p) }, p.icon ? icon(p.icon) : null, h("span", { text: p.label || p.name || "" }))),
    );
    start.replaceChildren(h("p", { class: "greeting", text: o.startScreen.greeting || this.#t("greeting") }), prompts.length ? h("ul", { class: "prompts" }, prompts) : null);
  }

  #sendPrompt(prompt) {
    const content = typeof prompt.prompt === "string" ? [{ type: "input_text", text: prompt.prompt }] : prompt.prompt;
    this.#sendMessage({ content, attachments: [], model: this.#ui.model ? this.#ui.model.value : null });
  }

  #updateComposer() {
    const ui = this.#ui;
    const view = this.#view;
    const streaming = Boolean(view.stream);
    const t = this.#t;
    ui.send.replaceChildren(icon(streaming ? "stop" : "send"));
    const label = streaming ? t("stop") : t("send");
    ui.send.setAttribute("aria-label", label);
    ui.send.title = label;
    ui.send.classList.toggle("stopping", streaming);
    ui.send.disabled = (streaming && !view.stream.allowCancel) || (!streaming && this.#draft.attachments.some((a) => a.status === "uploading"));
    ui.form.setAttribute("aria-busy", String(streaming));
    const status = view.thread && view.thread.status;
    const closed = status && status.type !== "active";
    ui.locked.hidden = !closed;
    if (closed) {
      const kind = status.type === "closed" ? "closed" : "locked";
      ui.locked.textContent = status.reason ? t(`${kind}Reason`, { reason: status.reason }) : t(kind);
    }
    ui.input.disabled = Boolean(closed);
    if (ui.attach) ui.attach.disabled = Boolean(closed);
  }

  #fitInput() {
    const input = this.#ui.input;
    input.style.setProperty("height", "auto");
    input.style.setProperty("height", `${Math.min(input.scrollHeight, 200)}px`);
  }

  #showComposerError(message) {
    const box = this.#ui.composerError;
    box.replaceChildren();
    if (!message) return;
    const dismiss = h("button", { type: "button", class: "icon-button small", "aria-label": this.#t("dismiss"), title: this.#t("dismiss"), onclick: () => box.replaceChildren() }, icon("close"));
    box.append(h("div", { class: "error", role: "alert" }, h("span", { text: message }), dismiss));
  }

  // ---- views ---------------------------------------------------------------------------------

  /** Show this.#view. A fresh scroller showing an empty thread is already where it should be,
   * so it is not scrolled (scrolling forces a layout). */
  #attachView({ freshScroller = false } = {}) {
    const { scroller, start } = this.#ui;
    const view = this.#view;
    for (const child of [...scroller.children]) if (child !== start) child.remove();
    scroller.append(view.el);
    this.#renderHeader();
    this.#renderStart();
    this.#updateComposer();
    this.#markCurrentThread();
    if (freshScroller && view.isEmpty()) {
      this.#autoTop = 0;
      this.#atBottom = true;
    } else this.#scrollToBottom();
  }

  #setView(view) {
    const previous = this.#view;
    if (previous === view) return;
    if (previous.id && !previous.stream) this.#views.delete(previous.id);
    this.#view = view;
    if (view.id) this.#views.set(view.id, view);
    this.#attachView();
    if (previous.id !== view.id) this.#emit("chatkit.thread.change", { threadId: view.id });
  }

  async #open(threadId) {
    if (!this.#built) return;
    if (this.#narrow && this.#historyIsOpen()) this.#setHistory(false);
    if (threadId === this.#view.id && (threadId === null ? this.#view.isEmpty() && !this.#view.stream : true)) return;
    if (threadId === null) {
      this.#setView(new ThreadView(null));
      return;
    }
    const view = this.#views.get(threadId) || new ThreadView(threadId);
    this.#setView(view);
    if (!view.loaded && !view.stream) await this.#load(view);
  }

  #newChat() {
    this.#open(null);
    this.#ui.input.focus();
  }

  async #load(view) {
    if (!this.#api) return;
    const threadId = view.id;
    this.#emit("chatkit.thread.load.start", { threadId });
    this.#log("thread.load", { threadId });
    try {
      const [thread, page] = await Promise.all([
        this.#api.call("threads.get_by_id", { thread_id: threadId }),
        this.#api.call("items.list", { thread_id: threadId, limit: ITEM_PAGE, order: "desc" }),
      ]);
      view.thread = { ...thread, items: undefined };
      this.#addItems(view, page.data.slice().reverse(), "append");
      view.after = page.after || (page.data.length ? page.data[page.data.length - 1].id : null);
      view.hasMore = Boolean(page.has_more);
      view.loaded = true;
      this.#renderMore(view);
      if (view === this.#view) {
        this.#renderHeader();
        this.#renderStart();
        this.#updateComposer();
        this.#scrollToBottom();
      }
      this.#resumeIfInterrupted(view);
    } catch (err) {
      if (err && err.name === "AbortError") return;
      this.#alert(view, describeError(err, this.#t));
      this.#error(err);
    } finally {
      this.#emit("chatkit.thread.load.end", { threadId });
    }
  }

  #renderMore(view) {
    view.more.hidden = !view.hasMore;
    view.more.textContent = this.#t("loadEarlier");
    view.more.onclick = () => this.#loadEarlier(view);
  }

  async #loadEarlier(view) {
    if (!view.hasMore || view.loadingMore) return;
    view.loadingMore = true;
    const scroller = this.#ui.scroller;
    try {
      const page = await this.#api.call("items.list", { thread_id: view.id, limit: ITEM_PAGE, order: "desc", after: view.after });
      const before = scroller.scrollHeight;
      const first = view.list.firstElementChild;
      this.#addItems(view, page.data.slice().reverse(), "prepend");
      view.after = page.after || (page.data.length ? page.data[page.data.length - 1].id : view.after);
      view.hasMore = Boolean(page.has_more) && page.data.length > 0;
      this.#renderMore(view);
      scroller.scrollTop += scroller.scrollHeight - before;
      if (!view.hasMore) {
        const target = first && first.previousElementSibling;
        (target ? focusableIn(target) || scroller : scroller).focus();
      }
    } catch (err) {
      this.#alert(view, describeError(err, this.#t));
      this.#error(err);
    } finally {
      view.loadingMore = false;
    }
  }

  /** Add server items in order; existing ones are replaced in place. */
  #addItems(view, items, where) {
    const frag = document.createDocumentFragment();
    for (const item of items) {
      if (!isVisible(item)) continue;
      const existing = view.items.get(item.id);
      if (existing) {
        existing.replace(item);
        continue;
      }
      const iv = new ItemView(item, this.#itemContext(view));
      view.items.set(item.id, iv);
      frag.append(iv.el);
    }
    if (where === "prepend") view.list.prepend(frag);
    else view.list.append(frag);
  }

  #upsertItem(view, item) {
    if (!isVisible(item)) return null;
    const existing = view.items.get(item.id);
    if (existing) {
      existing.replace(item);
      return existing;
    }
    const iv = new ItemView(item, this.#itemContext(view));
    view.items.set(item.id, iv);
    view.list.append(iv.el);
    if (view === this.#view) this.#renderStart();
    return iv;
  }

  #removeItem(view, itemId) {
    const iv = view.items.get(itemId);
    if (!iv) return;
    iv.el.remove();
    view.items.delete(itemId);
  }

  async #refreshView(view) {
    if (!view.id || view.stream || !view.loaded) return;
    try {
      const [thread, page] = await Promise.all([
        this.#api.call("threads.get_by_id", { thread_id: view.id }),
        this.#api.call("items.list", { thread_id: view.id, limit: ITEM_PAGE, order: "desc" }),
      ]);
      view.thread = { ...thread, items: undefined };
      this.#addItems(view, page.data.slice().reverse(), "append");
      if (view === this.#view) {
        this.#renderHeader();
        this.#updateComposer();
        this.#follow();
      }
    } catch (err) {
      this.#error(err);
    }
  }

  #itemContext(view) {
    return {
      t: this.#t,
      scheme: this.#o.theme.colorScheme === "dark" ? "dark" : "light",
      options: this.#o.actions,
      schedule: this.#schedule,
      imageAllowed: (url) => this.#imageAllowed(url, view),
      feedbackFor: (itemId) => feedbackStore().get(itemId),
      feedback: (item, kind) => this.#feedback(view, item, kind),
      retry: (item, row) => this.#retry(view, item, row),
      widgetAction: (action, item, details) => this.#widgetAction(view, action, item, details),
      answerStructured: (item, answers) => this.#answerStructured(view, item, answers),
    };
  }

  #imageAllowed(url, view) {
    let u;
    try {
      u = new URL(url, document.baseURI);
    } catch {
      return false;
    }
    if (u.protocol === "blob:") return true;
    if (u.protocol === "data:") return /^data:image\/(png|jpeg|gif|webp)[;,]/i.test(url);
    if (u.protocol !== "https:" && u.protocol !== "http:") return false;
    const domains = view.thread && view.thread.allowed_image_domains;
    if (!Array.isArray(domains)) return true;
    const apiOrigin = this.#api ? new URL(this.#api.url).origin : "";
    return u.origin === apiOrigin || u.origin === location.origin || domains.some((d) => u.hostname === d || u.hostname.endsWith(`.${d}`));
  }

  #alert(view, message, { retry = null } = {}) {
    const box = h("div", { class: "error", role: "alert" }, h("span", { text: message }));
    if (retry) box.append(h("button", { type: "button", class: "w-button variant-outline", text: this.#t("retry"), onclick: () => { box.remove(); retry(); } }));
    box.append(h("button", { type: "button", class: "icon-button small", "aria-label": this.#t("dismiss"), title: this.#t("dismiss"), onclick: () => box.remove() }, icon("close")));
    view.status.append(box);
    if (view === this.#view) this.#follow(true);
  }

  // ---- history -----------------------------------------------------------------------------

  async #refreshThreads() {
    if (!this.#api || !this.#o.history.enabled) return;
    try {
      const limit = Math.min(100, Math.max(THREAD_PAGE, this.#threads.list.length));
      const page = await this.#api.call("threads.list", { limit, order: "desc" });
      this.#threads = { list: page.data, after: page.after || (page.data.length ? page.data[page.data.length - 1].id : null), hasMore: Boolean(page.has_more) };
      this.#renderThreads();
    } catch (err) {
      this.#error(err);
      if (!this.#threads.list.length) this.#showComposerError(describeError(err, this.#t));
    }
  }

  async #loadMoreThreads() {
    const state = this.#threads;
    if (!state.hasMore) return;
    try {
      const page = await this.#api.call("threads.list", { limit: THREAD_PAGE, order: "desc", after: state.after });
      const known = new Set(state.list.map((th) => th.id));
      const firstNew = page.data.find((th) => !known.has(th.id));
      state.list.push(...page.data.filter((th) => !known.has(th.id)));
      state.after = page.after || (page.data.length ? page.data[page.data.length - 1].id : state.after);
      state.hasMore = Boolean(page.has_more) && page.data.length > 0;
      this.#renderThreads();
      const target = firstNew && this.#ui.threadList.querySelector(`[data-thread-id="${CSS.escape(firstNew.id)}"] .thread-link`);
      if (target) target.focus();
    } catch (err) {
      this.#error(err);
      this.#showComposerError(describeError(err, this.#t));
    }
  }

  /** A thread the stream created or renamed: update its entry without reloading the list. */
  #upsertThread(thread) {
    if (!this.#o.history.enabled) return;
    const list = this.#threads.list;
    const i = list.findIndex((th) => th.id === thread.id);
    if (i >= 0) list[i] = { ...list[i], ...thread, items: undefined };
    else list.unshift({ ...thread, items: undefined });
    this.#renderThreads();
  }

  #renderThreads() {
    if (!this.#built || !this.#o.history.enabled) return;
    const ui = this.#ui;
    const t = this.#t;
    const o = this.#o;
    const focused = this.shadowRoot.activeElement;
    const focusKey = focused && focused.closest && focused.closest("[data-thread-id]") ? [focused.closest("[data-thread-id]").dataset.threadId, focused.dataset.role] : null;
    ui.threadList.replaceChildren(
      ...this.#threads.list.map((thread) => {
        const title = thread.title || t("untitled");
        const li = h("li", { dataset: { threadId: thread.id } });
        li.append(h("button", { type: "button", class: "thread-link", dataset: { role: "open" }, onclick: () => this.#open(thread.id) }, h("span", { text: title })));
        if (o.history.showRename) li.append(h("button", { type: "button", class: "icon-button small", dataset: { role: "rename" }, "aria-label": t("renameThread", { title }), title: t("rename"), onclick: () => this.#rename(li, thread) }, icon("write")));
        if (o.history.showDelete) li.append(h("button", { type: "button", class: "icon-button small", dataset: { role: "delete" }, "aria-label": t("deleteThread", { title }), title: t("delete"), onclick: () => this.#confirmDelete(li, thread) }, icon("trash")));
        return li;
      }),
    );
    ui.moreThreads.hidden = !this.#threads.hasMore;
    this.#markCurrentThread();
    if (focusKey) {
      const again = ui.threadList.querySelector(`[data-thread-id="${CSS.escape(focusKey[0])}"] [data-role="${focusKey[1]}"]`);
      if (again) again.focus();
    }
  }

  #markCurrentThread() {
    if (!this.#ui.threadList) return;
    for (const li of this.#ui.threadList.children) {
      const link = li.querySelector(".thread-link");
      if (!link) continue;
      if (li.dataset.threadId === this.#view.id) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
  }

  #rename(li, thread) {
    const t = this.#t;
    const id = uid("rename");
    const input = h("input", { id, class: "w-input", value: thread.title || "" });
    const cancel = () => this.#renderThreads();
    const save = async () => {
      const title = input.value.trim();
      if (!title) return cancel();
      try {
        const updated = await this.#api.call("threads.update", { thread_id: thread.id, title });
        this.#log("thread.rename", { threadId: thread.id });
        this.#upsertThread(updated);
        const view = this.#views.get(thread.id) || (this.#view.id === thread.id ? this.#view : null);
        if (view) view.thread = { ...(view.thread || {}), title: updated.title };
        if (this.#view.id === thread.id) this.#renderHeader();
        const link = this.#ui.threadList.querySelector(`[data-thread-id="${CSS.escape(thread.id)}"] .thread-link`);
        if (link) link.focus();
      } catch (err) {
        this.#error(err);
        this.#showComposerError(describeError(err, t));
      }
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        save();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation();
        cancel();
      }
    });
    const form = h("form", { class: "rename confirm" }, h("label", { class: "sr-only", for: id, text: t("newTitle") }), input, h("button", { type: "submit", class: "w-button style-primary", text: t("save") }), h("button", { type: "button", class: "w-button variant-outline", text: t("cancel"), onclick: cancel }));
    form._cancel = cancel;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      save();
    });
    li.replaceChildren(form);
    input.focus();
    input.select();
  }

  #confirmDelete(li, thread) {
    const t = this.#t;
    const cancel = () => {
      this.#renderThreads();
      const again = this.#ui.threadList.querySelector(`[data-thread-id="${CSS.escape(thread.id)}"] [data-role="delete"]`);
      if (again) again.focus();
    };
    const yes = h("button", {
      type: "button",
      class: "w-button color-danger",
      text: t("delete"),
      onclick: async () => {
        try {
          await this.#api.call("threads.delete", { thread_id: thread.id });
          this.#log("thread.delete", { threadId: thread.id });
          this.#threads.list = this.#threads.list.filter((th) => th.id !== thread.id);
          this.#views.delete(thread.id);
          if (this.#view.id === thread.id) this.#open(null);
          this.#renderThreads();
          const first = this.#ui.threadList.querySelector(".thread-link") || this.#ui.history.querySelector(".new-chat");
          if (first) first.focus();
        } catch (err) {
          this.#error(err);
          this.#showComposerError(describeError(err, t));
        }
      },
    });
    const box = h("div", { class: "confirm", role: "group", "aria-label": t("deleteThread", { title: thread.title || t("untitled") }) }, h("p", { text: t("confirmDelete") }), yes, h("button", { type: "button", class: "w-button variant-outline", text: t("cancel"), onclick: cancel }));
    box._cancel = cancel;
    li.replaceChildren(box);
    yes.focus();
  }

  // ---- composer and sending ----------------------------------------------------------------

  async #submitComposer() {
    const ui = this.#ui;
    if (this.#view.stream || this.#waitingForUploads) return;
    const uploading = this.#draft.attachments.filter((a) => a.status === "uploading");
    if (uploading.length) {
      // Sent as soon as the files are stored (those that fail are left out, with a message).
      this.#waitingForUploads = true;
      await Promise.allSettled(uploading.map((a) => a.upload));
      this.#waitingForUploads = false;
      if (this.#view.stream) return;
    }
    const text = ui.input.value.trim();
    const ready = this.#draft.attachments.filter((a) => a.status === "ready");
    if (!text && !ready.length) return;
    const snapshot = { text: ui.input.value, attachments: this.#draft.attachments };
    ui.input.value = "";
    this.#fitInput();
    this.#draft.attachments = [];
    this.#renderDraft();
    ui.input.focus();
    this.#sendMessage(
      { content: [{ type: "input_text", text }], attachments: ready.map((a) => a.id), model: ui.model ? ui.model.value : null },
      snapshot,
    );
  }

  async #sendMessage({ content, attachments, quoted = null, model = null, toolChoice = null }, snapshot = null) {
    const view = this.#view;
    if (view.stream || !this.#api) return;
    this.#showComposerError(null);
    for (const old of view.status.querySelectorAll(".error, .notice")) old.remove();
    const inference = {};
    if (model) inference.model = model;
    if (toolChoice) inference.tool_choice = toolChoice;
    const input = { content, attachments, quoted_text: quoted, inference_options: inference };
    this.#atBottom = true;
    this.#log("message.send", { threadId: view.id, attachments: attachments.length });
    const type = view.id ? "threads.add_user_message" : "threads.create";
    const params = view.id ? { thread_id: view.id, input } : { input };
    try {
      await this.#stream(view, type, params);
    } catch (err) {
      // Not accepted: the user's text and files come back, with the reason in words.
      if (snapshot && !this.#ui.input.value) {
        this.#ui.input.value = snapshot.text;
        this.#fitInput();
        if (!this.#draft.attachments.length) this.#draft.attachments = snapshot.attachments;
        this.#renderDraft();
      }
      if (view === this.#view) this.#showComposerError(this.#t("sendFailed", { reason: describeError(err, this.#t) }));
    }
  }

  /**
   * Run one streaming request against `view`. Rejects only when the request was refused before
   * the server accepted it (so a caller can give the user's input back); later failures are shown
   * in the thread.
   */
  async #stream(view, type, params) {
    if (view.stream) throw new ChatKitError("busy", { kind: "client" });
    const stream = { view, type, controller: new AbortController(), allowCancel: true, stopped: false, accepted: false, streaming: new Set(), clientTool: null, failed: false };
    view.stream = stream;
    if (view === this.#view) this.#updateComposer();
    this.#emit("chatkit.response.start");
    let refused = null;
    try {
      await this.#api.stream(type, params, (event) => this.#onEvent(stream, event), stream.controller.signal);
    } catch (err) {
      if (err && err.name === "AbortError") {
        stream.stopped = true;
      } else if (!stream.accepted && type !== "threads.custom_action") {
        refused = err;
        this.#error(err);
      } else {
        stream.failed = true;
        this.#alert(view, describeError(err, this.#t));
        this.#error(err);
      }
    } finally {
      // A stopped answer is saved by the server when it notices the disconnect, a moment
      // later: remember it, so a reload right away waits for it (#resumeIfInterrupted).
      if (stream.stopped && view.id && stream.streaming.size) {
        sessionStorageSafe("set", `${STORE_PREFIX}streaming:${view.id}`, String(Date.now()));
      }
      for (const iv of stream.streaming) iv.setStreaming(false, stream.stopped);
      stream.streaming.clear();
      view.stream = null;
      view.status.querySelector(".progress")?.remove();
      if (view === this.#view) {
        this.#updateComposer();
        this.#follow();
      } else if (view.id && !view.stream) {
        this.#views.delete(view.id);
      }
      this.#emit("chatkit.response.end");
      this.#log("response.end", { threadId: view.id, stopped: stream.stopped });
    }
    if (refused) {
      if (type === "threads.create" || type === "threads.add_user_message") throw refused;
      this.#alert(view, describeError(refused, this.#t));
      return;
    }
    if (stream.clientTool && !stream.stopped && !stream.failed) await this.#runClientTool(view, stream.clientTool);
  }

  #stop() {
    const stream = this.#view.stream;
    if (!stream || !stream.allowCancel) return;
    stream.stopped = true;
    stream.controller.abort();
    this.#log("response.stop", { threadId: this.#view.id });
    this.#ui.input.focus();
  }

  #onEvent(stream, event) {
    const view = stream.view;
    const current = view === this.#view;
    switch (event.type) {
      case "thread.created": {
        stream.accepted = true;
        view.id = event.thread.id;
        view.thread = { ...event.thread, items: undefined };
        view.loaded = true;
        this.#views.set(view.id, view);
        this.#upsertThread(event.thread);
        if (current) {
          this.#renderHeader();
          this.#markCurrentThread();
          this.#emit("chatkit.thread.change", { threadId: view.id });
        }
        break;
      }
      case "thread.updated": {
        view.thread = { ...(view.thread || {}), ...event.thread, items: undefined };
        this.#upsertThread(event.thread);
        if (current) {
          this.#renderHeader();
          this.#updateComposer();
        }
        break;
      }
      case "thread.item.added":
      case "thread.item.done":
      case "thread.item.replaced": {
        const item = event.item;
        if (item.type === "user_message") stream.accepted = true;
        const iv = this.#upsertItem(view, item);
        if (!iv) break;
        if (item.type === "user_message" && current && this.#atBottom) this.#scrollToBottom();
        if (event.type === "thread.item.added" && item.type === "assistant_message") {
          stream.streaming.add(iv);
          iv.setStreaming(true);
        }
        if (event.type === "thread.item.done") {
          if (stream.streaming.has(iv)) {
            stream.streaming.delete(iv);
            iv.setStreaming(false);
          }
          if (item.type === "assistant_message" && current) this.#announce(item);
          if (item.type === "client_tool_call" && item.status === "pending") stream.clientTool = item;
        }
        if (current) this.#schedule(noop);
        break;
      }
      case "thread.item.removed":
        this.#removeItem(view, event.item_id);
        break;
      case "thread.item.updated": {
        const iv = view.items.get(event.item_id);
        if (iv) iv.applyUpdate(event.update);
        break;
      }
      case "progress_update": {
        let row = view.status.querySelector(".progress");
        if (!row) {
          row = h("p", { class: "progress" });
          view.status.prepend(row);
        }
        row.replaceChildren(event.icon ? icon(event.icon) : h("span", { class: "spinner", "aria-hidden": "true" }), h("span", { text: event.text }));
        if (current) this.#schedule(noop);
        break;
      }
      case "stream_options":
        stream.allowCancel = Boolean(event.stream_options && event.stream_options.allow_cancel);
        if (current) this.#updateComposer();
        break;
      case "client_effect":
        this.#emit("chatkit.effect", { name: event.name, data: event.data });
        break;
      case "notice": {
        const box = h("div", { class: `notice notice-${event.level || "info"}`, role: event.level === "danger" ? "alert" : "status" });
        if (event.title) box.append(h("p", { class: "notice-title", text: event.title }));
        box.append(h("div", { class: "md" }, renderMarkdown(event.message || "")));
        box.append(h("button", { type: "button", class: "icon-button small", "aria-label": this.#t("dismiss"), title: this.#t("dismiss"), onclick: () => box.remove() }, icon("close")));
        view.status.append(box);
        break;
      }
      case "error": {
        stream.failed = true;
        const message = withoutIds(event.message) || this.#t("errStream");
        const lastUser = [...view.ordered()].reverse().find((iv) => iv.item.type === "user_message");
        const retry = event.allow_retry && lastUser && view.id ? () => this.#retryFrom(view, lastUser.item) : null;
        this.#alert(view, message, { retry });
        this.#error(new ChatKitError(message, { kind: "stream", code: event.code || "" }));
        break;
      }
      default:
        break;
    }
  }

  #announce(item) {
    const text = plainText(messageText(item));
    if (!text) return;
    const clipped = text.length > 600 ? `${text.slice(0, 600)}…` : text;
    const region = this.#ui.announcer;
    region.textContent = this.#t("answerAnnounce", { text: clipped });
  }

  #scrollToBottom() {
    const s = this.#ui.scroller;
    s.scrollTop = s.scrollHeight;
    this.#autoTop = s.scrollTop;
    this.#atBottom = true;
  }

  /** After a frame's DOM work: keep the newest output in view if the user is at the bottom. */
  #follow(force = false) {
    if (!this.#built) return;
    // Scrolled up since we last scrolled (its scroll event may not have arrived yet): stay.
    if (!force && this.#ui.scroller.scrollTop < this.#autoTop - 4) this.#atBottom = false;
    if (force || (this.#atBottom && (this.#o.autoScroll || !this.#view.stream))) this.#scrollToBottom();
  }

  // ---- attachments -------------------------------------------------------------------------

  #addFiles(files) {
    const t = this.#t;
    const limits = this.#o.composer.attachments;
    const errors = [];
    for (const file of files) {
      if (this.#draft.attachments.length >= limits.maxCount) {
        errors.push(t("tooMany", { count: limits.maxCount }));
        break;
      }
      if (!accepts(limits.accept, file)) {
        errors.push(t("notAccepted", { name: file.name }));
        continue;
      }
      const max = maxSizeFor(limits.maxSize, file.type);
      if (file.size > max) {
        errors.push(t("tooLarge", { name: file.name, size: formatBytes(max) }));
        continue;
      }
      const image = /^image\//.test(file.type);
      const entry = { localId: uid("up"), name: file.name, mime_type: file.type, type: image ? "image" : "file", status: "uploading", localUrl: image ? URL.createObjectURL(file) : null };
      this.#draft.attachments.push(entry);
      entry.upload = this.#upload(entry, file);
    }
    this.#showComposerError(errors.join(" ") || null);
    this.#renderDraft();
  }

  async #upload(entry, file) {
    try {
      const attachment = await this.#api.upload(file);
      if (entry.removed) {
        // Removed while it uploaded: nothing will reference it, delete it at once.
        this.#api.call("attachments.delete", { attachment_id: attachment.id }).catch(() => {});
        return;
      }
      Object.assign(entry, attachment, { status: "ready" });
      if (entry.localUrl && entry.preview_url) {
        URL.revokeObjectURL(entry.localUrl);
        entry.localUrl = null;
      }
      this.#log("attachment.upload", { attachmentId: attachment.id, type: attachment.type });
    } catch (err) {
      entry.status = "error";
      this.#error(err);
      this.#showComposerError(this.#t("attachmentFailed", { name: entry.name, reason: describeError(err, this.#t) }));
      this.#draft.attachments = this.#draft.attachments.filter((a) => a !== entry);
    }
    this.#renderDraft();
  }

  #renderDraft() {
    if (!this.#built) return;
    const list = this.#draft.attachments;
    const ctx = { t: this.#t, imageAllowed: (url) => this.#imageAllowed(url, this.#view) };
    this.#ui.drafts.replaceChildren(
      list.length
        ? attachmentList(list, ctx, (a) => {
            this.#draft.attachments = this.#draft.attachments.filter((x) => x !== a);
            a.removed = true;
            if (a.id && a.status === "ready") this.#api.call("attachments.delete", { attachment_id: a.id }).catch(() => {});
            if (a.localUrl) URL.revokeObjectURL(a.localUrl);
            this.#renderDraft();
            this.#ui.input.focus();
          })
        : "",
    );
    this.#updateComposer();
  }

  // ---- item actions ------------------------------------------------------------------------

  async #feedback(view, item, kind) {
    try {
      await this.#api.call("items.feedback", { thread_id: view.id, item_ids: [item.id], kind });
      feedbackStore().set(item.id, kind);
      this.#log("feedback", { threadId: view.id, kind });
    } catch (err) {
      this.#error(err);
      this.#alert(view, describeError(err, this.#t));
      throw err;
    }
  }

  #retry(view, item, row) {
    if (view.stream) return;
    const ordered = view.ordered();
    const at = ordered.findIndex((iv) => iv.item.id === item.id);
    const user = ordered.slice(0, at).reverse().find((iv) => iv.item.type === "user_message");
    if (!user) return;
    const laterUser = ordered.slice(at + 1).findIndex((iv) => iv.item.type === "user_message");
    if (laterUser < 0) {
      this.#retryFrom(view, user.item);
      return;
    }
    const later = ordered.length - (at + 1 + laterUser);
    const t = this.#t;
    const cancel = () => {
      box.remove();
      row.hidden = false;
      row.querySelector("[aria-label]")?.focus();
    };
    const yes = h("button", { type: "button", class: "w-button style-primary", text: t("retry"), onclick: () => { box.remove(); row.hidden = false; this.#retryFrom(view, user.item); } });
    const box = h("div", { class: "confirm", role: "group", "aria-label": t("retry") }, h("p", { text: t("retryWarning", { count: later }) }), yes, h("button", { type: "button", class: "w-button variant-outline", text: t("cancel"), onclick: cancel }));
    box._cancel = cancel;
    row.hidden = true;
    row.after(box);
    yes.focus();
  }

  async #retryFrom(view, userItem) {
    if (view.stream) return;
    // The server deletes everything after the message without saying so: mirror it here.
    const ordered = view.ordered();
    const at = ordered.findIndex((iv) => iv.item.id === userItem.id);
    for (const iv of ordered.slice(at + 1)) this.#removeItem(view, iv.item.id);
    view.status.replaceChildren();
    this.#log("retry", { threadId: view.id });
    await this.#stream(view, "threads.retry_after_item", { thread_id: view.id, item_id: userItem.id });
  }

  async #widgetAction(view, action, item, details) {
    this.#log("widget.action", { threadId: view.id, type: action.type, handler: action.handler || "server" });
    const busy = action.loadingBehavior === "none" ? null : action.loadingBehavior === "container" || action.loadingBehavior === "auto" ? details.container : details.control;
    const setBusy = (on) => {
      if (!busy) return;
      busy.setAttribute("aria-busy", String(on));
      if (details.control && "disabled" in details.control && details.control.tagName === "BUTTON") details.control.disabled = on;
    };
    setBusy(true);
    try {
      if (action.handler === "client") {
        if (this.#o.onAction) await this.#o.onAction({ type: action.type, payload: action.payload }, { id: item.id, widget: item.widget });
        return;
      }
      if (!view.id || view.stream) return;
      const params = { thread_id: view.id, item_id: item.id, action: { type: action.type, payload: action.payload ?? null } };
      if (action.streaming === false) {
        const result = await this.#api.call("threads.sync_custom_action", params);
        if (result && result.updated_item) this.#upsertItem(view, result.updated_item);
      } else {
        await this.#stream(view, "threads.custom_action", params);
      }
    } catch (err) {
      this.#error(err);
      this.#alert(view, describeError(err, this.#t));
    } finally {
      setBusy(false);
    }
  }

  async #answerStructured(view, item, answers) {
    if (!view.id || view.stream) return;
    const input = answers ? { status: "answered", answers } : { status: "skipped", answers: {} };
    await this.#stream(view, "threads.add_structured_input", { thread_id: view.id, item_id: item.id, input });
  }

  async #runClientTool(view, item) {
    const handler = this.#o.onClientTool;
    let result;
    try {
      if (!handler) throw new Error(`no onClientTool handler for ${item.name}`);
      result = await handler({ name: item.name, params: item.arguments || {} });
    } catch (err) {
      this.#error(err);
      this.#alert(view, this.#t("errClientTool", { name: item.name }));
      result = { error: String((err && err.message) || err) };
    }
    this.#log("client_tool", { threadId: view.id, name: item.name });
    const iv = view.items.get(item.id);
    if (iv) iv.replace({ ...item, status: "completed", output: result });
    await this.#stream(view, "threads.add_client_tool_output", { thread_id: view.id, result: result ?? {} });
  }

  // ---- reload while an answer streamed -------------------------------------------------------

  /** Called on pagehide: remember which threads were streaming, so a reload can wait for them. */
  rememberStreams() {
    for (const view of new Set([this.#view, ...this.#views.values()])) {
      if (view.stream && view.id) sessionStorageSafe("set", `${STORE_PREFIX}streaming:${view.id}`, String(Date.now()));
    }
  }

  async #resumeIfInterrupted(view) {
    const key = `${STORE_PREFIX}streaming:${view.id}`;
    const since = Number(sessionStorageSafe("get", key));
    if (!since) return;
    sessionStorageSafe("remove", key);
    if (Date.now() - since > 120000) return;
    // The server saves an interrupted answer when it notices the disconnect; until then the
    // thread ends with the user's message. Poll briefly for the saved answer.
    const waiting = () => {
      const last = view.ordered().at(-1);
      return !last || last.item.type === "user_message";
    };
    if (!waiting()) return;
    const row = h("p", { class: "progress" }, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", { text: this.#t("resuming") }));
    view.status.prepend(row);
    this.#log("resume.poll", { threadId: view.id });
    const deadline = Date.now() + RESUME_MAX_MS;
    try {
      while (waiting() && Date.now() < deadline && !view.stream) {
        await new Promise((resolve) => setTimeout(resolve, RESUME_POLL_MS));
        const page = await this.#api.call("items.list", { thread_id: view.id, limit: ITEM_PAGE, order: "desc" });
        this.#addItems(view, page.data.slice().reverse(), "append");
        if (view === this.#view) this.#follow();
      }
    } catch (err) {
      this.#error(err);
    } finally {
      row.remove();
    }
  }
}

function noop() {}

function focusableIn(el) {
  return el.querySelector("button, a[href], input, textarea, select, [tabindex='0']");
}

function sessionStorageSafe(op, key, value) {
  try {
    if (op === "get") return sessionStorage.getItem(key);
    if (op === "set") sessionStorage.setItem(key, value);
    if (op === "remove") sessionStorage.removeItem(key);
  } catch {
    // storage unavailable (privacy mode, sandboxed frame): the features that need it degrade
  }
  return null;
}

/** Feedback given in this tab (the protocol does not return it with items). */
function feedbackStore() {
  const key = `${STORE_PREFIX}feedback`;
  let map;
  try {
    map = new Map(Object.entries(JSON.parse(sessionStorageSafe("get", key) || "{}")));
  } catch {
    map = new Map();
  }
  return {
    get: (id) => map.get(id) || null,
    set: (id, kind) => {
      map.set(id, kind);
      const entries = [...map.entries()].slice(-500);
      sessionStorageSafe("set", key, JSON.stringify(Object.fromEntries(entries)));
    },
  };
}

function accepts(accept, file) {
  if (!accept) return true;
  const name = file.name.toLowerCase();
  for (const [mime, exts] of Object.entries(accept)) {
    if (mime === file.type || (mime.endsWith("/*") && file.type.startsWith(mime.slice(0, -1)))) return true;
    if ((exts || []).some((ext) => name.endsWith(String(ext).toLowerCase()))) return true;
  }
  return false;
}

function maxSizeFor(maxSize, type) {
  if (typeof maxSize === "number") return maxSize;
  let fallback = 100 * 1024 * 1024;
  for (const [pattern, limit] of Object.entries(maxSize || {})) {
    if (pattern === "*" || pattern === "") fallback = limit;
    else if (pattern === type || (pattern.endsWith("/*") && type.startsWith(pattern.slice(0, -1)))) return limit;
  }
  return fallback;
}

function formatBytes(n) {
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}

if (!customElements.get("chatkit-onprem")) customElements.define("chatkit-onprem", ChatKitElement);

if (typeof window !== "undefined") {
  window.addEventListener("pagehide", () => {
    for (const el of document.querySelectorAll("chatkit-onprem")) if (el.rememberStreams) el.rememberStreams();
  });
}

/**
 * createChatKit(element, options): `element` is a <chatkit-onprem> or a container that gets one.
 * Returns the <chatkit-onprem> element (it carries the methods and emits the events).
 */
export function createChatKit(element, options) {
  let el = element;
  if (!el || el.localName !== "chatkit-onprem") {
    el = document.createElement("chatkit-onprem");
    (element || document.body).append(el);
  }
  el.setOptions(options);
  return el;
}

export { ChatKitElement };
