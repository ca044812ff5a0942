// src/api.js
var ChatKitError = class extends Error {
  constructor(message, { status: status2 = 0, code = "", retryAfter = null, kind = "http" } = {}) {
    super(message);
    this.name = "ChatKitError";
    this.status = status2;
    this.code = code;
    this.retryAfter = retryAfter;
    this.kind = kind;
  }
};
var Api = class {
  /** `config` is options.api: {url, fetch?, uploadStrategy?}. */
  constructor(config) {
    if (!config || typeof config.url !== "string" || !config.url) {
      throw new ChatKitError("options.api.url is required", { kind: "client" });
    }
    this.url = new URL(config.url, document.baseURI).href;
    const custom = config.fetch;
    this.fetch = typeof custom === "function" ? (input2, init) => custom(input2, init) : (input2, init) => fetch(input2, init);
    this.uploadStrategy = config.uploadStrategy || { type: "two_phase" };
  }
  async #post(body, signal) {
    let response;
    try {
      response = await this.fetch(this.url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ChatKitError(String(err && err.message || err), { kind: "network" });
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }
  /** A non-streaming request: resolves to the JSON body. */
  async call(type, params, signal) {
    const response = await this.#post({ type, params }, signal);
    return response.json();
  }
  /**
   * A streaming request: calls `onEvent` for each SSE event in order. Resolves when the stream
   * ends; rejects with AbortError when `signal` aborts it.
   */
  async stream(type, params, onEvent, signal) {
    const response = await this.#post({ type, params }, signal);
    const contentType = response.headers.get("content-type") || "";
    if (!contentType.startsWith("text/event-stream")) {
      const body = await response.json().catch(() => null);
      if (body && body.type) onEvent(body);
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (; ; ) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (err && err.name === "AbortError") throw err;
        if (signal && signal.aborted) throw new DOMException("aborted", "AbortError");
        throw new ChatKitError(String(err && err.message || err), { kind: "network" });
      }
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut;
      while ((cut = nextBoundary(buffer)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(buffer.startsWith("\r\n", cut) ? cut + 4 : cut + 2);
        const data2 = dataOf(block);
        if (data2) onEvent(JSON.parse(data2));
      }
    }
    const data = dataOf(buffer);
    if (data) onEvent(JSON.parse(data));
  }
  /** Upload a File with the configured strategy; resolves to the server's Attachment. */
  async upload(file, signal) {
    const form = () => {
      const body = new FormData();
      body.append("file", file, file.name);
      return body;
    };
    if (this.uploadStrategy.type === "direct") {
      const target = new URL(this.uploadStrategy.uploadUrl, document.baseURI).href;
      return this.#send(target, { method: "POST", body: form(), signal });
    }
    const created = await this.call(
      "attachments.create",
      { name: file.name, size: file.size, mime_type: file.type || "application/octet-stream" },
      signal
    );
    const descriptor = created.upload_descriptor;
    if (!descriptor) return created;
    const uploaded = await this.#send(descriptor.url, {
      method: descriptor.method || "POST",
      headers: { ...descriptor.headers || {} },
      body: form(),
      signal
    });
    const attachment = uploaded && uploaded.id ? uploaded : created;
    return { ...attachment, upload_descriptor: null };
  }
  async #send(url, init) {
    let response;
    try {
      response = await this.fetch(url, init);
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ChatKitError(String(err && err.message || err), { kind: "network" });
    }
    if (!response.ok) throw await errorFrom(response);
    const text2 = await response.text();
    return text2 ? JSON.parse(text2) : null;
  }
};
function nextBoundary(buffer) {
  const lf = buffer.indexOf("\n\n");
  const crlf = buffer.indexOf("\r\n\r\n");
  if (lf < 0) return crlf;
  if (crlf < 0) return lf;
  return Math.min(lf, crlf);
}
function dataOf(block) {
  let data = "";
  for (const raw of block.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.startsWith("data:")) data += (data ? "\n" : "") + line.slice(line[5] === " " ? 6 : 5);
  }
  return data;
}
async function errorFrom(response) {
  let code = "";
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || "";
      message = body.error.message || message;
    }
  } catch {
  }
  const retry = Number.parseInt(response.headers.get("retry-after") || "", 10);
  return new ChatKitError(message, {
    status: response.status,
    code,
    retryAfter: Number.isFinite(retry) ? retry : null
  });
}
function withoutIds(text2) {
  return String(text2 || "").replace(/\b(request[_ ]id|id)[:=]\s*\S+/gi, "").replace(/\b[a-z]{2,12}_[0-9a-f]{12,}\b/gi, "").replace(/\b[0-9a-f]{24,}\b/gi, "").replace(/\s{2,}/g, " ").replace(/\s+([.,;:!?])/g, "$1").trim();
}
function describeError(err, t) {
  if (!(err instanceof ChatKitError)) return t("errServer");
  if (err.kind === "network") return t("errNetwork");
  if (err.kind === "stream") return withoutIds(err.message) || t("errStream");
  const { status: status2, code } = err;
  if (code === "quota_exceeded") return t("errQuota");
  if (status2 === 401) return t("errAuth");
  if (status2 === 403) return t("errForbidden");
  if (status2 === 404) return t("errNotFound");
  if (status2 === 413) return t("errTooLarge");
  if (status2 === 415) return t("errType");
  if (status2 === 429) return err.retryAfter ? t("errRate", { seconds: err.retryAfter }) : t("errRateNoTime");
  if (status2 === 503) return t("errUnavailable");
  if (status2 >= 500) return t("errServer");
  if (status2 >= 400) return t("errBadRequest");
  return t("errServer");
}

// src/dom.js
var SVG = "http://www.w3.org/2000/svg";
function h(tag, props, ...children2) {
  const el = document.createElement(tag);
  if (props) setProps(el, props);
  append(el, children2);
  return el;
}
function setProps(el, props) {
  for (const key in props) {
    const value = props[key];
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "style") setStyle(el, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked" || key === "disabled" || key === "hidden" || key === "selected") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}
function append(el, children2) {
  for (const child of children2) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
  return el;
}
function setStyle(el, style) {
  for (const key in style) {
    const value = style[key];
    if (value == null || value === "") continue;
    el.style.setProperty(key, String(value));
  }
}
function srOnly(text2) {
  return h("span", { class: "sr-only", text: text2 });
}
var counter = 0;
function uid(prefix = "ck") {
  counter += 1;
  return `${prefix}-${counter}`;
}
var PATHS = {
  send: "M12 19V5M5.5 11.5 12 5l6.5 6.5",
  stop: "M7 7h10v10H7z",
  attach: "M8 12.5l5.5-5.5a3 3 0 0 1 4.2 4.2l-7 7a5 5 0 0 1-7-7L10 4.9",
  compose: "M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4",
  history: "M4 5h16v14H4zM9 5v14",
  close: "M6 6l12 12M18 6 6 18",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
  "thumbs-up": "M7 11v9H4v-9h3zm0 0 4-7a2 2 0 0 1 3 2l-1 4h5a2 2 0 0 1 2 2.3l-1.2 6A2 2 0 0 1 16.8 20H7",
  "thumbs-down": "M7 13V4H4v9h3zm0 0 4 7a2 2 0 0 0 3-2l-1-4h5a2 2 0 0 0 2-2.3l-1.2-6A2 2 0 0 0 16.8 4H7",
  reload: "M19 12a7 7 0 1 1-2.1-5M19 4v4h-4",
  copy: "M9 9h10v10H9zM5 15V5h10",
  check: "M5 12.5l4.5 4.5L19 7",
  "check-circle": "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM8 12.5l3 3 5-6",
  "check-circle-filled": "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM8 12.5l3 3 5-6",
  bolt: "M13 3 5 14h6l-1 7 8-11h-6l1-7z",
  document: "M6 3h8l4 4v14H6zM14 3v4h4M9 12h6M9 16h6",
  "page-blank": "M6 3h8l4 4v14H6zM14 3v4h4",
  images: "M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15 9.5a.5.5 0 1 0 0-1",
  "square-image": "M4 4h16v16H4zM4 16l5-5 4 4 3-3 4 4",
  search: "M10.5 17a6.5 6.5 0 1 0 0-13 6.5 6.5 0 0 0 0 13zM15.5 15.5 20 20",
  globe: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM3 12h18M12 3c3 3.5 3 14.5 0 18M12 3c-3 3.5-3 14.5 0 18",
  lightbulb: "M9 18h6M10 21h4M12 3a6 6 0 0 0-3.5 10.9V16h7v-2.1A6 6 0 0 0 12 3z",
  info: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 11v6M12 7.5v.5",
  "circle-question": "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.7.3-1 .9-1 1.7M12 17v.5",
  star: "M12 3.5l2.6 5.3 5.9.9-4.3 4.1 1 5.8L12 16.9l-5.2 2.7 1-5.8-4.3-4.1 5.9-.9z",
  "star-filled": "M12 3.5l2.6 5.3 5.9.9-4.3 4.1 1 5.8L12 16.9l-5.2 2.7 1-5.8-4.3-4.1 5.9-.9z",
  plus: "M12 5v14M5 12h14",
  "chevron-left": "M15 5l-7 7 7 7",
  "chevron-right": "M9 5l7 7-7 7",
  "external-link": "M14 4h6v6M20 4l-9 9M18 14v6H4V6h6",
  calendar: "M4 6h16v14H4zM4 10h16M8 3v5M16 3v5",
  clock: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 7v5l3 2",
  user: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0",
  profile: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0",
  mail: "M3 6h18v12H3zM3 6l9 7 9-7",
  phone: "M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2z",
  chart: "M4 20V4M4 20h16M8 16v-5M12 16V8M16 16v-3",
  analytics: "M4 20V4M4 20h16M7 15l4-4 3 3 5-6",
  bug: "M8 8h8v9a4 4 0 0 1-8 0zM12 8v13M4 12h4M16 12h4M5 18l3-1M19 18l-3-1M9 5l1.5 3M15 5l-1.5 3",
  sparkle: "M12 3l2 7 7 2-7 2-2 7-2-7-7-2 7-2z",
  "sparkle-double": "M10 4l1.5 5 5 1.5-5 1.5L10 17l-1.5-5-5-1.5 5-1.5zM18 14l.8 2.2L21 17l-2.2.8L18 20l-.8-2.2L15 17l2.2-.8z",
  notebook: "M6 3h12v18H6zM9 3v18M12 8h4M12 12h4",
  lifesaver: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM12 16a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM5.6 5.6l3.6 3.6M14.8 14.8l3.6 3.6M18.4 5.6l-3.6 3.6M9.2 14.8l-3.6 3.6",
  "dots-horizontal": "M6 12h.01M12 12h.01M18 12h.01",
  "dots-vertical": "M12 6v.01M12 12v.01M12 18v.01",
  "empty-circle": "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z",
  "map-pin": "M12 21s-6-5.5-6-11a6 6 0 0 1 12 0c0 5.5-6 11-6 11zM12 12a2 2 0 1 0 0-4 2 2 0 0 0 0 4z",
  write: "M4 20h4L19 9l-4-4L4 16v4z",
  menu: "M4 7h16M4 12h16M4 17h16",
  hamburger: "M4 7h16M4 12h16M4 17h16",
  "settings-cog": "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1 7 17M17 7l2.1-2.1",
  "light-mode": "M12 17a5 5 0 1 0 0-10 5 5 0 0 0 0 10zM12 2v2M12 20v2M2 12h2M20 12h2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4",
  "dark-mode": "M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z",
  home: "M4 11l8-7 8 7v9H4zM10 20v-5h4v5",
  "book-open": "M12 6c-2-1.5-5-2-8-2v14c3 0 6 .5 8 2 2-1.5 5-2 8-2V4c-3 0-6 .5-8 2zM12 6v14",
  play: "M8 5v14l11-7z",
  keys: "M14 10a4 4 0 1 0-4 4M14 10l6 6v4h-4v-2h-2v-2h-2l-2-2"
};
function icon(name, className = "icon") {
  const svg2 = document.createElementNS(SVG, "svg");
  svg2.setAttribute("viewBox", "0 0 24 24");
  svg2.setAttribute("aria-hidden", "true");
  svg2.setAttribute("focusable", "false");
  svg2.setAttribute("class", className);
  const key = typeof name === "string" && name.startsWith("lucide:") ? name.slice(7) : name;
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[key] || "M12 12.01h.01M12 16a4 4 0 1 0 0-8 4 4 0 0 0 0 8z");
  if (key === "star-filled" || key === "check-circle-filled") path.setAttribute("class", "filled");
  svg2.append(path);
  return svg2;
}
function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const key in attrs) if (attrs[key] != null) el.setAttribute(key, String(attrs[key]));
  return el;
}
function frameScheduler(minMs = 0, after = null) {
  const pending = /* @__PURE__ */ new Set();
  let scheduled = false;
  let last = -Infinity;
  const run = (now) => {
    last = now;
    scheduled = false;
    const jobs = [...pending];
    pending.clear();
    for (const job of jobs) job();
    if (after) after();
  };
  return (job) => {
    pending.add(job);
    if (scheduled) return;
    scheduled = true;
    const wait = last + minMs - performance.now();
    if (wait > 1) setTimeout(() => requestAnimationFrame(run), wait);
    else requestAnimationFrame(run);
  };
}

// src/i18n.js
var en = {
  chat: "Chat",
  newChat: "New chat",
  history: "Conversations",
  showHistory: "Show conversations",
  hideHistory: "Hide conversations",
  loadMoreThreads: "Load more conversations",
  loadEarlier: "Load earlier messages",
  untitled: "Untitled conversation",
  rename: "Rename",
  renameThread: "Rename “{title}”",
  newTitle: "New title",
  save: "Save",
  cancel: "Cancel",
  delete: "Delete",
  deleteThread: "Delete “{title}”",
  confirmDelete: "Delete this conversation? This cannot be undone.",
  greeting: "What can I help with today?",
  placeholder: "Message the AI",
  composerLabel: "Message",
  send: "Send",
  stop: "Stop",
  attach: "Attach files",
  removeAttachment: "Remove {name}",
  uploading: "Uploading {name}…",
  attachmentFailed: "{name} could not be uploaded: {reason}",
  tooLarge: "{name} is larger than {size}.",
  tooMany: "At most {count} files can be attached to one message.",
  notAccepted: "{name} is not a file type that can be attached.",
  model: "Model",
  messages: "Messages",
  you: "You said:",
  assistant: "Assistant said:",
  helpful: "Good response",
  notHelpful: "Bad response",
  feedbackThanks: "Thanks for the feedback.",
  retry: "Retry",
  retryWarning: "Retrying drops the {count} later messages in this conversation. Retry anyway?",
  copy: "Copy",
  copied: "Copied",
  stopped: "Stopped",
  answering: "Answering…",
  resuming: "Loading the rest of the answer…",
  answerAnnounce: "Answer: {text}",
  toolRunning: "Running {name}…",
  toolDone: "Ran {name}",
  answer: "Answer",
  skip: "Skip",
  answered: "Answered",
  skipped: "Skipped",
  yourAnswer: "Your answer",
  sources: "Sources",
  showMore: "Show more",
  working: "Working…",
  thought: "Thought",
  searched: "Searched",
  files: "Files",
  generatingImage: "Generating image…",
  generatedImage: "Generated image",
  image: "Image",
  imageBlocked: "Image not shown: {host} is not an allowed image source.",
  chartData: "Chart data",
  table: "Table",
  chart: "Chart: {series}",
  locked: "This conversation is locked.",
  closed: "This conversation is closed.",
  lockedReason: "This conversation is locked: {reason}",
  closedReason: "This conversation is closed: {reason}",
  dismiss: "Dismiss",
  copyCode: "Copy code",
  // errors, in words (never ids)
  errNetwork: "Could not reach the chat service. Check your connection and try again.",
  errAuth: "You are not signed in, or your session has expired.",
  errForbidden: "You are not allowed to do this.",
  errNotFound: "This conversation does not exist or is not available to you.",
  errTooLarge: "That is too large for the chat service.",
  errType: "That file type is not accepted.",
  errRate: "Too many requests. Try again in {seconds} seconds.",
  errRateNoTime: "Too many requests. Try again shortly.",
  errServer: "The chat service had a problem. Try again.",
  errUnavailable: "The chat service is unavailable right now. Try again shortly.",
  errBadRequest: "The chat service could not accept this request.",
  errStream: "The answer could not be completed.",
  errQuota: "Your storage quota is used up.",
  errClientTool: "The app could not run {name}.",
  sendFailed: "Your message was not sent. {reason}"
};
var de = {
  chat: "Chat",
  newChat: "Neuer Chat",
  history: "Unterhaltungen",
  showHistory: "Unterhaltungen anzeigen",
  hideHistory: "Unterhaltungen ausblenden",
  loadMoreThreads: "Weitere Unterhaltungen laden",
  loadEarlier: "Frühere Nachrichten laden",
  untitled: "Unbenannte Unterhaltung",
  rename: "Umbenennen",
  renameThread: "„{title}“ umbenennen",
  newTitle: "Neuer Titel",
  save: "Speichern",
  cancel: "Abbrechen",
  delete: "Löschen",
  deleteThread: "„{title}“ löschen",
  confirmDelete: "Diese Unterhaltung löschen? Das kann nicht rückgängig gemacht werden.",
  greeting: "Wobei kann ich heute helfen?",
  placeholder: "Nachricht an die KI",
  composerLabel: "Nachricht",
  send: "Senden",
  stop: "Stopp",
  attach: "Dateien anhängen",
  removeAttachment: "{name} entfernen",
  uploading: "{name} wird hochgeladen…",
  attachmentFailed: "{name} konnte nicht hochgeladen werden: {reason}",
  tooLarge: "{name} ist größer als {size}.",
  tooMany: "Höchstens {count} Dateien pro Nachricht.",
  notAccepted: "{name} hat einen Dateityp, der nicht angehängt werden kann.",
  model: "Modell",
  messages: "Nachrichten",
  you: "Sie schrieben:",
  assistant: "Der Assistent schrieb:",
  helpful: "Gute Antwort",
  notHelpful: "Schlechte Antwort",
  feedbackThanks: "Danke für die Rückmeldung.",
  retry: "Erneut versuchen",
  retryWarning: "Beim erneuten Versuch werden die {count} späteren Nachrichten dieser Unterhaltung entfernt. Trotzdem?",
  copy: "Kopieren",
  copied: "Kopiert",
  stopped: "Angehalten",
  answering: "Antwort wird geschrieben…",
  resuming: "Der Rest der Antwort wird geladen…",
  answerAnnounce: "Antwort: {text}",
  toolRunning: "{name} läuft…",
  toolDone: "{name} ausgeführt",
  answer: "Antworten",
  skip: "Überspringen",
  answered: "Beantwortet",
  skipped: "Übersprungen",
  yourAnswer: "Ihre Antwort",
  sources: "Quellen",
  showMore: "Mehr anzeigen",
  working: "In Arbeit…",
  thought: "Überlegung",
  searched: "Gesucht",
  files: "Dateien",
  generatingImage: "Bild wird erzeugt…",
  generatedImage: "Erzeugtes Bild",
  image: "Bild",
  imageBlocked: "Bild nicht angezeigt: {host} ist keine erlaubte Bildquelle.",
  chartData: "Diagrammdaten",
  table: "Tabelle",
  chart: "Diagramm: {series}",
  locked: "Diese Unterhaltung ist gesperrt.",
  closed: "Diese Unterhaltung ist geschlossen.",
  lockedReason: "Diese Unterhaltung ist gesperrt: {reason}",
  closedReason: "Diese Unterhaltung ist geschlossen: {reason}",
  dismiss: "Schließen",
  copyCode: "Code kopieren",
  errNetwork: "Der Chat-Dienst ist nicht erreichbar. Prüfen Sie die Verbindung und versuchen Sie es erneut.",
  errAuth: "Sie sind nicht angemeldet oder Ihre Sitzung ist abgelaufen.",
  errForbidden: "Dazu sind Sie nicht berechtigt.",
  errNotFound: "Diese Unterhaltung gibt es nicht oder sie ist für Sie nicht verfügbar.",
  errTooLarge: "Das ist zu groß für den Chat-Dienst.",
  errType: "Dieser Dateityp wird nicht angenommen.",
  errRate: "Zu viele Anfragen. Versuchen Sie es in {seconds} Sekunden erneut.",
  errRateNoTime: "Zu viele Anfragen. Versuchen Sie es gleich noch einmal.",
  errServer: "Beim Chat-Dienst ist ein Fehler aufgetreten. Versuchen Sie es erneut.",
  errUnavailable: "Der Chat-Dienst ist gerade nicht verfügbar. Versuchen Sie es gleich noch einmal.",
  errBadRequest: "Der Chat-Dienst konnte diese Anfrage nicht annehmen.",
  errStream: "Die Antwort konnte nicht fertiggestellt werden.",
  errQuota: "Ihr Speicherkontingent ist aufgebraucht.",
  errClientTool: "Die Anwendung konnte {name} nicht ausführen.",
  sendFailed: "Ihre Nachricht wurde nicht gesendet. {reason}"
};
var TABLES = { en, de };
function resolveLocale(locale) {
  const wanted = String(locale || typeof navigator !== "undefined" && navigator.language || "en");
  const base = wanted.toLowerCase().split(/[-_]/)[0];
  return base in TABLES ? base : "en";
}
function translator(locale) {
  const lang = resolveLocale(locale);
  const table3 = TABLES[lang];
  const t = (key, vars) => {
    let text2 = table3[key] ?? en[key] ?? key;
    if (vars) text2 = text2.replace(/\{(\w+)\}/g, (m, name) => name in vars ? String(vars[name]) : m);
    return text2;
  };
  t.lang = lang;
  return t;
}

// src/markdown.js
var SAFE_LINK = /^(https?:|mailto:)/i;
function renderMarkdown(text2, opts = {}) {
  const frag = document.createDocumentFragment();
  renderBlocks(String(text2 || "").replace(/\r\n?/g, "\n").split("\n"), frag, { ...opts, headings: { prev: 2 } });
  return frag;
}
var MarkdownView = class {
  constructor(el, opts = {}) {
    this.el = el;
    this.opts = opts;
    this.chunks = [];
    this.text = "";
  }
  update(text2) {
    if (text2 === this.text) return;
    this.text = text2;
    const parts = splitChunks(String(text2 || "").replace(/\r\n?/g, "\n"));
    let keep = 0;
    while (keep < parts.length - 1 && keep < this.chunks.length && this.chunks[keep].src === parts[keep]) keep += 1;
    const last = this.chunks[keep];
    if (keep === parts.length - 1 && this.chunks.length === parts.length && last && last.paragraph) {
      const next = parts[keep];
      const shown = last.src.trim();
      if (next.trimStart().startsWith(shown) && isPlainParagraph(next)) {
        last.paragraph.append(next.trim().slice(shown.length));
        last.src = next;
        return;
      }
    }
    for (const chunk of this.chunks.splice(keep)) for (const node2 of chunk.nodes) node2.remove();
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
};
function isPlainParagraph(src) {
  return src.length >= 8 && !/[\\`*_~[\]<>!|#\n]|https?:|mailto:/i.test(src) && !/^\s*([-+>]|\d{1,9}[.)](\s|$))/.test(src);
}
function splitChunks(text2) {
  const lines = text2.split("\n");
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
var RE = {
  fence: /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/,
  heading: /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/,
  hr: /^\s{0,3}([-*_])(\s*\1){2,}\s*$/,
  quote: /^\s{0,3}>\s?/,
  list: /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/,
  tableSep: /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/
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
    if (m = RE.heading.exec(line)) {
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
    while (i < lines.length && lines[i].trim() !== "" && !(para.length && (RE.fence.test(lines[i]) || RE.heading.test(lines[i]) || RE.quote.test(lines[i]) || RE.list.test(lines[i])))) {
      para.push(lines[i].trim());
      i += 1;
    }
    parent.append(inline(h("p"), para.join("\n")));
  }
}
function codeBlock(code, lang, opts) {
  const codeEl = h("code", { text: code });
  if (lang) codeEl.className = `language-${lang.replace(/[^\w+#.-]/g, "")}`;
  const pre = h("pre", { tabindex: "0" }, codeEl);
  const wrap = h("div", { class: "md-code" }, pre);
  if (opts.copyLabel && navigator.clipboard) {
    wrap.prepend(
      h("button", {
        type: "button",
        class: "md-copy",
        text: opts.copyLabel,
        onclick: () => navigator.clipboard.writeText(code).catch(() => {
        })
      })
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
  let text2 = line.trim();
  if (text2.startsWith("|")) text2 = text2.slice(1);
  if (text2.endsWith("|") && !text2.endsWith("\\|")) text2 = text2.slice(0, -1);
  return text2.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}
function table(lines, start, parent) {
  const head = cells(lines[start]);
  const aligns = cells(lines[start + 1]).map(
    (c) => c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : c.startsWith(":") ? "left" : ""
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
var INLINE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|(!?)\[((?:[^\]\\]|\\.)*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)|<((?:https?:\/\/|mailto:)[^>\s]+)>|\b(https?:\/\/[^\s<]*[^\s<.,;:!?)\]'"*_])|(\*\*|__)(?=\S)([\s\S]*?\S)\8|([*_])(?=[^\s*_])([\s\S]*?[^\s\\])\10|~~(?=\S)([\s\S]*?\S)~~|\\([\\`*_{}[\]()#+\-.!~|>])|(\n)/g;
function inline(el, text2) {
  const re = new RegExp(INLINE.source, "g");
  let pos = 0;
  let buffer = "";
  const flushText = () => {
    if (buffer) el.append(buffer);
    buffer = "";
  };
  let m;
  while (m = re.exec(text2)) {
    const at = m.index;
    if ((m[8] === "__" || m[10] === "_") && at > 0 && /\w/.test(text2[at - 1])) {
      re.lastIndex = at + 1;
      continue;
    }
    buffer += text2.slice(pos, at);
    pos = re.lastIndex;
    if (m[1]) {
      flushText();
      el.append(h("code", { text: m[2].replace(/^ (.*) $/, "$1") }));
    } else if (m[4] !== void 0 && m[5] !== void 0) {
      flushText();
      const label2 = m[4].replace(/\\(.)/g, "$1");
      el.append(link(m[5], label2, m[3] === "!"));
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
  buffer += text2.slice(pos);
  flushText();
  return el;
}
function link(url, label2, isImage) {
  const text2 = isImage ? label2 || url : label2;
  if (!SAFE_LINK.test(url)) return document.createTextNode(text2);
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", class: isImage ? "md-image-link" : null, text: text2 });
}
function plainText(text2) {
  return String(text2 || "").replace(/```[\s\S]*?```/g, (block) => block.replace(/```\w*/g, "")).replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[*_~`#>]+/g, "").replace(/\s+/g, " ").trim();
}

// src/widgets.js
var ALIGN = { start: "flex-start", end: "flex-end", center: "center", baseline: "baseline", stretch: "stretch" };
var JUSTIFY = { ...ALIGN, between: "space-between", around: "space-around", evenly: "space-evenly" };
var RADIUS = { "2xs": "2px", xs: "4px", sm: "6px", md: "8px", lg: "12px", xl: "16px", "2xl": "20px", "3xl": "24px", "4xl": "32px", full: "9999px", "100%": "100%", none: "0" };
var TEXT_COLORS = { prose: "var(--ck-fg)", primary: "var(--ck-fg)", emphasis: "var(--ck-fg-strong)", secondary: "var(--ck-muted)", tertiary: "var(--ck-muted)", success: "var(--ck-success)", warning: "var(--ck-warning)", danger: "var(--ck-danger)" };
var BG_COLORS = { surface: "var(--ck-bg)", "surface-secondary": "var(--ck-bg-2)", "surface-tertiary": "var(--ck-bg-3)", "surface-elevated": "var(--ck-bg-elevated)", "surface-elevated-secondary": "var(--ck-bg-2)" };
var BORDER_COLORS = { default: "var(--ck-border)", subtle: "var(--ck-border-subtle)", strong: "var(--ck-border-strong)" };
var HUES = { red: 0, orange: 25, amber: 38, yellow: 48, lime: 85, green: 140, emerald: 155, teal: 175, cyan: 190, sky: 200, blue: 215, indigo: 235, violet: 258, purple: 272, fuchsia: 295, pink: 330, rose: 350, gray: 220, slate: 215, zinc: 240, neutral: 0, stone: 30 };
var LIGHTNESS = { 50: 97, 100: 93, 200: 86, 300: 76, 400: 64, 500: 53, 600: 45, 700: 37, 800: 29, 900: 22, 950: 15 };
var CHART_COLORS = { blue: "hsl(215 75% 50%)", purple: "hsl(272 60% 55%)", orange: "hsl(25 85% 50%)", green: "hsl(140 55% 38%)", red: "hsl(0 70% 50%)", yellow: "hsl(45 90% 45%)", pink: "hsl(330 70% 55%)" };
var CHART_ORDER = ["blue", "orange", "green", "purple", "red", "yellow", "pink"];
function renderWidget(widget, ctx) {
  const container = h("div", { class: "widget" });
  container._dirty = /* @__PURE__ */ new Map();
  container.addEventListener("input", (ev) => remember(container, ev.target));
  container.addEventListener("change", (ev) => remember(container, ev.target));
  paint(container, widget, ctx);
  return container;
}
function updateWidget(container, widget, ctx) {
  paint(container, widget, ctx);
}
function applyWidgetUpdate(widget, update) {
  if (update.type === "widget.root.updated") return update.widget;
  if (update.type === "widget.component.updated") return replaceNode(widget, update.component_id, () => update.component);
  if (update.type === "widget.streaming_text.value_delta") {
    return replaceNode(widget, update.component_id, (node2) => ({ ...node2, value: (node2.value || "") + update.delta }));
  }
  return widget;
}
function replaceNode(node2, id, replace) {
  if (!node2 || typeof node2 !== "object") return node2;
  if (node2.id === id) return replace(node2);
  const out = { ...node2 };
  if (Array.isArray(node2.children)) out.children = node2.children.map((c) => replaceNode(c, id, replace));
  else if (node2.children && typeof node2.children === "object") out.children = replaceNode(node2.children, id, replace);
  return out;
}
function remember(container, target) {
  if (!target || !target.name) return;
  const value = target.type === "checkbox" ? target.checked : target.value;
  if (target.type === "radio" && !target.checked) return;
  container._dirty.set(target.name, value);
}
function paint(container, widget, ctx) {
  const state = { ctx, widget, container, labels: /* @__PURE__ */ new Set(), ids: /* @__PURE__ */ new Map(), form: null };
  collectLabels(widget, state.labels);
  const root = node(widget, state);
  container.replaceChildren(...root ? [root] : []);
  for (const [name, value] of container._dirty) {
    for (const el of container.querySelectorAll(`[name="${CSS.escape(name)}"]`)) {
      if (el.type === "checkbox") el.checked = Boolean(value);
      else if (el.type === "radio") el.checked = el.value === value;
      else el.value = value;
    }
  }
}
function collectLabels(n, labels) {
  if (!n || typeof n !== "object") return;
  if (n.type === "Label" && n.fieldName) labels.add(n.fieldName);
  const kids = Array.isArray(n.children) ? n.children : n.children ? [n.children] : [];
  for (const child of kids) collectLabels(child, labels);
}
function fieldId(state, name) {
  if (!state.ids.has(name)) state.ids.set(name, uid("wf"));
  return state.ids.get(name);
}
function children(n, state) {
  const kids = Array.isArray(n.children) ? n.children : n.children ? [n.children] : [];
  return kids.map((child) => node(child, state)).filter(Boolean);
}
function node(n, state) {
  if (!n || typeof n !== "object") return null;
  const render = RENDERERS[n.type];
  const el = render ? render(n, state) : h("div", { class: "w-unknown" }, children(n, state));
  if (el && n.id && el.dataset) el.dataset.wid = n.id;
  return el;
}
function safeCss(value) {
  if (typeof value === "number") return String(value);
  if (typeof value !== "string" || value.length > 120) return null;
  if (!/^[#a-z0-9 .,%()+\-/]+$/i.test(value)) return null;
  if (/(url|image|image-set|cross-fade|element|paint|src|expression)\s*\(/i.test(value)) return null;
  return value;
}
function colorOf(value, state, tokens) {
  if (value == null) return null;
  if (typeof value === "object") return colorOf(state.ctx.scheme === "dark" ? value.dark : value.light, state, tokens);
  if (tokens && tokens[value]) return tokens[value];
  const m = /^([a-z]+)-(\d{2,3})$/.exec(value);
  if (m && m[1] in HUES && m[2] in LIGHTNESS) {
    const sat = ["gray", "slate", "zinc", "neutral", "stone"].includes(m[1]) ? 10 : 72;
    return `hsl(${HUES[m[1]]} ${sat}% ${LIGHTNESS[m[2]]}%)`;
  }
  return safeCss(value);
}
function space(value) {
  if (value == null) return null;
  if (typeof value === "number") return `calc(var(--ck-space) * ${value})`;
  return safeCss(value);
}
function spacing(value, prop) {
  if (value == null) return {};
  if (typeof value !== "object") return { [prop]: space(value) };
  const out = {};
  const y = value.y ?? null;
  const x = value.x ?? null;
  out[`${prop}-top`] = space(value.top ?? y);
  out[`${prop}-bottom`] = space(value.bottom ?? y);
  out[`${prop}-left`] = space(value.left ?? x);
  out[`${prop}-right`] = space(value.right ?? x);
  return out;
}
function size(value) {
  if (value == null) return null;
  return typeof value === "number" ? `${value}px` : safeCss(value);
}
function borderValue(b, state) {
  if (b == null) return null;
  if (typeof b === "number") return `${b}px solid var(--ck-border)`;
  const style = /^(solid|dashed|dotted|double|groove|ridge|inset|outset)$/.test(b.style || "") ? b.style : "solid";
  return `${Number(b.size) || 1}px ${style} ${colorOf(b.color, state, BORDER_COLORS) || "var(--ck-border)"}`;
}
function borders(value, state) {
  if (value == null) return {};
  if (typeof value === "number" || "size" in value) return { border: borderValue(value, state) };
  const out = {};
  for (const side of ["top", "right", "bottom", "left"]) {
    const axis = side === "top" || side === "bottom" ? value.y : value.x;
    const b = value[side] ?? axis;
    if (b != null) out[`border-${side}`] = borderValue(b, state);
  }
  return out;
}
function boxStyle(n, state) {
  return {
    "align-items": ALIGN[n.align],
    "justify-content": JUSTIFY[n.justify],
    "flex-wrap": /^(nowrap|wrap|wrap-reverse)$/.test(n.wrap || "") ? n.wrap : null,
    flex: n.flex != null ? safeCss(n.flex) : null,
    gap: space(n.gap),
    width: size(n.width ?? n.size),
    height: size(n.height ?? n.size),
    "min-width": size(n.minWidth ?? n.minSize),
    "min-height": size(n.minHeight ?? n.minSize),
    "max-width": size(n.maxWidth ?? n.maxSize),
    "max-height": size(n.maxHeight ?? n.maxSize),
    "border-radius": RADIUS[n.radius],
    background: colorOf(n.background, state, BG_COLORS),
    "aspect-ratio": n.aspectRatio != null ? safeCss(n.aspectRatio) : null,
    ...spacing(n.padding, "padding"),
    ...spacing(n.margin, "margin"),
    ...borders(n.border, state)
  };
}
function textStyle(n, state) {
  const style = {
    color: colorOf(n.color, state, TEXT_COLORS),
    "text-align": { start: "start", center: "center", end: "end" }[n.textAlign],
    "font-style": n.italic ? "italic" : null,
    "text-decoration": n.lineThrough ? "line-through" : null,
    width: size(n.width)
  };
  if (n.maxLines) style["-webkit-line-clamp"] = String(Number(n.maxLines) || 1);
  if (n.minLines) style["min-height"] = `calc(${Number(n.minLines) || 1} * 1.5em)`;
  return style;
}
function textClasses(base, n) {
  const cls = [base];
  if (n.size) cls.push(`size-${n.size}`);
  if (n.weight) cls.push(`weight-${n.weight}`);
  if (n.truncate) cls.push("truncate");
  if (n.maxLines) cls.push("clamp");
  return cls.join(" ");
}
function formValues(form) {
  const values = {};
  if (!form) return values;
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.tagName === "BUTTON") continue;
    if (el.type === "checkbox") values[el.name] = el.checked;
    else if (el.type === "radio") {
      if (el.checked) values[el.name] = el.value;
    } else values[el.name] = el.value;
  }
  return values;
}
function dispatch(action, state, { form = null, control = null, extra = null } = {}) {
  if (!action || !action.type) return;
  const values = { ...formValues(form), ...extra || {} };
  const base = action.payload && typeof action.payload === "object" && !Array.isArray(action.payload) ? action.payload : {};
  const payload = Object.keys(values).length ? { ...base, ...values } : action.payload;
  const sent = { ...action, payload };
  state.container._dirty.clear();
  state.ctx.onAction(sent, { widget: state.widget, form, control, container: state.container });
}
function status(st, state) {
  if (!st || !st.text) return null;
  const parts = [];
  if (st.icon) parts.push(icon(st.icon));
  else if (st.favicon && state.ctx.imageAllowed(st.favicon)) {
    parts.push(h("img", { class: st.frame ? "favicon framed" : "favicon", src: st.favicon, alt: "", referrerpolicy: "no-referrer" }));
  }
  parts.push(h("span", { text: st.text }));
  return h("div", { class: "w-status" }, parts);
}
function flexBox(tag, direction, n, state, cls = "") {
  const el = h(tag, { class: `w-box ${direction === "row" ? "w-row" : "w-col"} ${cls}`.trim() });
  setStyle(el, boxStyle(n, state));
  el.append(...children(n, state));
  return el;
}
function makeForm(n, state, cls, renderKids) {
  const form = h("form", { class: cls, novalidate: false });
  const previous = state.form;
  state.form = form;
  renderKids(form);
  state.form = previous;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    const submitter = ev.submitter;
    const action = submitter && submitter._action || n.onSubmitAction || n.confirm && n.confirm.action;
    dispatch(action, state, { form, control: submitter || form });
  });
  return form;
}
function card(n, state) {
  const cls = ["w-card"];
  if (n.size) cls.push(`card-${n.size}`);
  if (n.theme) cls.push(`theme-${n.theme}`);
  const footer = () => {
    if (!n.confirm && !n.cancel) return null;
    const row = h("div", { class: "w-card-footer" });
    if (n.cancel) {
      const b = h("button", { type: "button", class: "w-button variant-outline", text: n.cancel.label });
      b.addEventListener("click", () => dispatch(n.cancel.action, state, { form: b.form, control: b }));
      row.append(b);
    }
    if (n.confirm) {
      const b = h("button", { type: n.asForm ? "submit" : "button", class: "w-button style-primary", text: n.confirm.label });
      b._action = n.confirm.action;
      if (!n.asForm) b.addEventListener("click", () => dispatch(n.confirm.action, state, { control: b }));
      row.append(b);
    }
    return row;
  };
  const fill = (el2) => {
    const head = status(n.status, state);
    if (head) el2.append(head);
    const body = h("div", { class: "w-card-body" });
    setStyle(body, spacing(n.padding, "padding"));
    body.append(...children(n, state));
    if (n.collapsed) {
      el2.append(h("details", { class: "w-collapsed" }, h("summary", { text: state.ctx.t("showMore") }), body));
    } else el2.append(body);
    const foot = footer();
    if (foot) el2.append(foot);
  };
  let el;
  if (n.asForm) el = makeForm({ ...n, onSubmitAction: n.confirm && n.confirm.action }, state, cls.join(" "), fill);
  else {
    el = h("div", { class: cls.join(" ") });
    fill(el);
  }
  setStyle(el, { background: colorOf(n.background, state, BG_COLORS), ...borders(n.border, state) });
  return el;
}
function listView(n, state) {
  const wrap = h("div", { class: `w-list${n.theme ? ` theme-${n.theme}` : ""}` });
  const head = status(n.status, state);
  if (head) wrap.append(head);
  const items = (n.children || []).map((c) => node(c, state)).filter(Boolean);
  const list2 = h("ul", { class: "w-list-items" });
  const limit = typeof n.limit === "number" ? n.limit : items.length;
  list2.append(...items.slice(0, limit));
  wrap.append(list2);
  if (items.length > limit) {
    const more = h("button", { type: "button", class: "w-more", text: state.ctx.t("showMore") });
    more.addEventListener("click", () => {
      const first = items[limit];
      list2.append(...items.slice(limit));
      more.remove();
      const focusable = first && first.querySelector("[tabindex],button,a,input");
      if (focusable) focusable.focus();
    });
    wrap.append(more);
  }
  return wrap;
}
function listViewItem(n, state) {
  const content = h("div", { class: "w-box w-row w-list-item" });
  setStyle(content, { gap: space(n.gap), "align-items": ALIGN[n.align] });
  content.append(...children(n, state));
  if (n.onClickAction) {
    content.setAttribute("role", "button");
    content.setAttribute("tabindex", "0");
    content.classList.add("clickable");
    const fire = () => dispatch(n.onClickAction, state, { control: content });
    content.addEventListener("click", fire);
    content.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        fire();
      }
    });
  }
  return h("li", null, content);
}
function text(n, state) {
  if (n.editable && typeof n.editable === "object" && n.editable.name) {
    const e = n.editable;
    const input2 = h("input", {
      class: textClasses("w-input w-text-edit", n),
      name: e.name,
      value: n.value || "",
      placeholder: e.placeholder,
      pattern: e.pattern,
      required: e.required,
      autocomplete: e.autoComplete,
      "aria-label": e.placeholder || e.name
    });
    if (e.autoFocus) queueMicrotask(() => input2.focus());
    return input2;
  }
  const el = h("p", { class: textClasses("w-text", n), text: n.value || "" });
  setStyle(el, textStyle(n, state));
  return el;
}
function markdownNode(n, state) {
  const el = h("div", { class: "w-markdown md" });
  new MarkdownView(el, { copyLabel: state.ctx.t("copyCode") }).update(n.value || "");
  return el;
}
function button(n, state) {
  const cls = ["w-button"];
  for (const key of ["style", "color", "variant", "size"]) if (n[key]) cls.push(`${key}-${n[key]}`);
  if (n.pill) cls.push("pill");
  if (n.block) cls.push("block");
  if (n.uniform) cls.push("uniform");
  const b = h("button", { type: n.submit ? "submit" : "button", class: cls.join(" "), disabled: Boolean(n.disabled) });
  if (n.iconStart) b.append(icon(n.iconStart));
  if (n.label) b.append(h("span", { text: n.label }));
  if (n.iconEnd) b.append(icon(n.iconEnd));
  if (!n.label) b.setAttribute("aria-label", String(n.iconStart || n.iconEnd || "button").replace(/^lucide:/, "").replace(/-/g, " "));
  if (n.submit) b._action = n.onClickAction || null;
  else if (n.onClickAction) {
    const form = state.form;
    b.addEventListener("click", () => dispatch(n.onClickAction, state, { form, control: b }));
  }
  return b;
}
function fieldLabel(n, state, fallback) {
  return state.labels.has(n.name) ? null : fallback || n.name;
}
function input(n, state) {
  const type = ["number", "email", "text", "password", "tel", "url"].includes(n.inputType) ? n.inputType : "text";
  const el = h("input", {
    class: `w-input${n.pill ? " pill" : ""}${n.variant ? ` variant-${n.variant}` : ""}`,
    id: fieldId(state, n.name),
    name: n.name,
    type,
    value: n.defaultValue ?? "",
    placeholder: n.placeholder,
    pattern: n.pattern,
    required: Boolean(n.required),
    disabled: Boolean(n.disabled),
    autocomplete: n.allowAutofillExtensions ? null : "off",
    "aria-label": fieldLabel(n, state, n.placeholder)
  });
  if (n.autoFocus) queueMicrotask(() => el.focus());
  if (n.autoSelect) el.addEventListener("focus", () => el.select(), { once: true });
  return el;
}
function textarea(n, state) {
  const el = h("textarea", {
    class: `w-input w-textarea${n.variant ? ` variant-${n.variant}` : ""}`,
    id: fieldId(state, n.name),
    name: n.name,
    rows: n.rows || 3,
    placeholder: n.placeholder,
    required: Boolean(n.required),
    disabled: Boolean(n.disabled),
    "aria-label": fieldLabel(n, state, n.placeholder)
  });
  el.value = n.defaultValue ?? "";
  if (n.autoResize) {
    const fit = () => {
      el.style.setProperty("height", "auto");
      el.style.setProperty("height", `${el.scrollHeight}px`);
    };
    el.addEventListener("input", fit);
  }
  if (n.autoFocus) queueMicrotask(() => el.focus());
  return el;
}
function onChange(el, n, state, valueOf) {
  if (!n.onChangeAction) return;
  const form = state.form;
  el.addEventListener("change", () => dispatch(n.onChangeAction, state, { form, control: el, extra: { [n.name]: valueOf() } }));
}
function select(n, state) {
  const el = h("select", {
    class: `w-input w-select${n.block ? " block" : ""}${n.pill ? " pill" : ""}`,
    id: fieldId(state, n.name),
    name: n.name,
    disabled: Boolean(n.disabled),
    "aria-label": fieldLabel(n, state, n.placeholder)
  });
  if (n.placeholder || n.defaultValue == null) {
    el.append(h("option", { value: "", text: n.placeholder || "—", disabled: !n.clearable, selected: n.defaultValue == null }));
  }
  for (const opt of n.options || []) {
    el.append(h("option", { value: opt.value, text: opt.label, disabled: Boolean(opt.disabled), selected: opt.value === n.defaultValue, title: opt.description }));
  }
  onChange(el, n, state, () => el.value);
  return el;
}
function datePicker(n, state) {
  const day = (v) => typeof v === "string" ? v.slice(0, 10) : null;
  const el = h("input", {
    class: `w-input w-date${n.block ? " block" : ""}`,
    type: "date",
    id: fieldId(state, n.name),
    name: n.name,
    value: day(n.defaultValue) || "",
    min: day(n.min),
    max: day(n.max),
    disabled: Boolean(n.disabled),
    "aria-label": fieldLabel(n, state, n.placeholder)
  });
  onChange(el, n, state, () => el.value);
  return el;
}
function checkbox(n, state) {
  const box = h("input", {
    type: "checkbox",
    id: fieldId(state, n.name),
    name: n.name,
    checked: Boolean(n.defaultChecked),
    disabled: Boolean(n.disabled),
    required: Boolean(n.required)
  });
  onChange(box, n, state, () => box.checked);
  if (!n.label && !state.labels.has(n.name)) box.setAttribute("aria-label", n.name);
  return h("label", { class: "w-check" }, box, n.label ? h("span", { text: n.label }) : null);
}
function radioGroup(n, state) {
  const set = h("fieldset", { class: `w-radios ${n.direction === "row" ? "w-row" : "w-col"}`, disabled: Boolean(n.disabled) });
  set.append(h("legend", { class: "sr-only", text: n.ariaLabel || n.name }));
  for (const opt of n.options || []) {
    const radio = h("input", {
      type: "radio",
      name: n.name,
      value: opt.value,
      checked: opt.value === n.defaultValue,
      disabled: Boolean(opt.disabled),
      required: Boolean(n.required)
    });
    onChange(radio, n, state, () => radio.value);
    set.append(h("label", { class: "w-check" }, radio, h("span", { text: opt.label })));
  }
  return set;
}
function label(n, state) {
  const el = h("label", { class: textClasses("w-label", n), for: fieldId(state, n.fieldName), text: n.value || "" });
  setStyle(el, textStyle(n, state));
  return el;
}
function image(n, state) {
  const style = {
    "object-fit": /^(cover|contain|fill|scale-down|none)$/.test(n.fit || "") ? n.fit : null,
    "object-position": safeCss(n.position || ""),
    "border-radius": RADIUS[n.radius],
    width: size(n.width ?? n.size),
    height: size(n.height ?? n.size),
    "min-width": size(n.minWidth ?? n.minSize),
    "min-height": size(n.minHeight ?? n.minSize),
    "max-width": size(n.maxWidth ?? n.maxSize),
    "max-height": size(n.maxHeight ?? n.maxSize),
    "aspect-ratio": n.aspectRatio != null ? safeCss(n.aspectRatio) : null,
    background: colorOf(n.background, state, BG_COLORS),
    flex: n.flex != null ? safeCss(n.flex) : null,
    ...spacing(n.margin, "margin")
  };
  if (!state.ctx.imageAllowed(n.src)) {
    let host = "";
    try {
      host = new URL(n.src, document.baseURI).host;
    } catch {
      host = "?";
    }
    return h("p", { class: "w-image-blocked", text: state.ctx.t("imageBlocked", { host }) });
  }
  const img = h("img", { class: `w-image${n.frame ? " framed" : ""}${n.flush ? " flush" : ""}`, src: n.src, alt: n.alt || "", loading: "lazy", referrerpolicy: "no-referrer" });
  setStyle(img, style);
  return img;
}
function badge(n) {
  const cls = ["w-badge", `badge-${n.color || "secondary"}`, `variant-${n.variant || "soft"}`];
  if (n.size) cls.push(`size-${n.size}`);
  if (n.pill) cls.push("pill");
  return h("span", { class: cls.join(" "), text: n.label || "" });
}
function iconNode(n, state) {
  const el = icon(n.name, `w-icon size-${n.size || "md"}`);
  const color = colorOf(n.color, state, TEXT_COLORS);
  if (color) el.style.setProperty("color", color);
  return el;
}
function divider(n, state) {
  const el = h("hr", { class: `w-divider${n.flush ? " flush" : ""}` });
  setStyle(el, {
    "border-top-color": colorOf(n.color, state, BORDER_COLORS),
    "border-top-width": size(n.size),
    "margin-top": space(n.spacing),
    "margin-bottom": space(n.spacing)
  });
  return el;
}
function spacer(n) {
  const el = h("div", { class: "w-spacer", "aria-hidden": "true" });
  setStyle(el, { "min-width": size(n.minSize), "min-height": size(n.minSize) });
  return el;
}
function table2(n, state) {
  const tableEl = h("table", { class: "w-table" });
  const head = h("thead");
  const body = h("tbody");
  for (const row of n.children || []) {
    const tr = h("tr");
    for (const cell of row.children || []) {
      const td = h(row.header ? "th" : "td", { colspan: cell.colSpan, rowspan: cell.rowSpan, scope: row.header ? "col" : null });
      if (cell.colSize) td.classList.add(`col-${cell.colSize}`);
      setStyle(td, {
        "text-align": { start: "start", center: "center", end: "end" }[cell.align],
        "vertical-align": { start: "top", center: "middle", end: "bottom" }[cell.vAlign],
        width: size(cell.width),
        ...spacing(cell.padding, "padding")
      });
      td.append(...children(cell, state));
      if (cell.id) td.dataset.wid = cell.id;
      tr.append(td);
    }
    if (row.id) tr.dataset.wid = row.id;
    (row.header ? head : body).append(tr);
  }
  if (head.children.length) tableEl.append(head);
  tableEl.append(body);
  return h("div", { class: "w-table-wrap", tabindex: "0", role: "region", "aria-label": state.ctx.t("table") }, tableEl);
}
function chart(n, state) {
  const { t } = state.ctx;
  const data = Array.isArray(n.data) ? n.data : [];
  const series = Array.isArray(n.series) ? n.series : [];
  const xKey = typeof n.xAxis === "string" ? n.xAxis : n.xAxis && n.xAxis.dataKey;
  const xLabels = n.xAxis && typeof n.xAxis === "object" && n.xAxis.labels || {};
  const hideX = n.xAxis && typeof n.xAxis === "object" && n.xAxis.hide;
  const W = 600;
  const H = 220;
  const left = n.showYAxis === false ? 8 : 44;
  const bottom = hideX ? 8 : 28;
  const top = 8;
  const plotW = W - left - 8;
  const plotH = H - top - bottom;
  const color = (s, i) => colorOf(s.color, state, CHART_COLORS) || CHART_COLORS[CHART_ORDER[i % CHART_ORDER.length]];
  const num = (row, key) => typeof row[key] === "number" ? row[key] : Number(row[key]) || 0;
  const stackTotals = data.map((row) => {
    const totals = {};
    series.forEach((s, i) => {
      const key = s.stack ? `${s.type}:${s.stack}` : `${s.type}:#${i}`;
      totals[key] = (totals[key] || 0) + Math.max(0, num(row, s.dataKey));
    });
    return totals;
  });
  const max = Math.max(1, ...stackTotals.flatMap((totals) => Object.values(totals)));
  const y = (v) => top + plotH - v / max * plotH;
  const band = plotW / Math.max(1, data.length);
  const xMid = (i) => left + band * i + band / 2;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "w-chart-svg", role: "img", "aria-label": t("chart", { series: series.map((s) => s.label || s.dataKey).join(", ") }) });
  root.append(svg("line", { x1: left, y1: top + plotH, x2: W - 8, y2: top + plotH, class: "axis" }));
  if (n.showYAxis !== false) {
    for (const frac of [0, 0.5, 1]) {
      const v = max * frac;
      const label2 = svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" });
      label2.textContent = Number.isInteger(v) ? String(v) : v.toFixed(1);
      root.append(label2);
    }
  }
  if (!hideX) {
    data.forEach((row, i) => {
      const label2 = svg("text", { x: xMid(i), y: H - 8, "text-anchor": "middle", class: "tick" });
      const raw = String(row[xKey] ?? "");
      label2.textContent = xLabels[raw] ?? raw;
      root.append(label2);
    });
  }
  const barGroups = [...new Set(series.map((s, i) => s.type === "bar" ? s.stack ? `s:${s.stack}` : `#${i}` : null).filter(Boolean))];
  const gap = Number(n.barCategoryGap ?? 12);
  const groupWidth = Math.max(2, Math.min(band - gap, Math.max(1, barGroups.length) * 40));
  const slot = groupWidth / Math.max(1, barGroups.length);
  const base = data.map(() => ({}));
  series.forEach((s, i) => {
    const c = color(s, i);
    if (s.type === "bar") {
      const group = s.stack ? `s:${s.stack}` : `#${i}`;
      const g = barGroups.indexOf(group);
      data.forEach((row, j) => {
        const v = Math.max(0, num(row, s.dataKey));
        const below = base[j][group] || 0;
        base[j][group] = below + v;
        const x = left + band * j + (band - groupWidth) / 2 + slot * g;
        root.append(svg("rect", { x, y: y(below + v), width: Math.max(1, slot - 2), height: Math.max(0, y(below) - y(below + v)), fill: c }));
      });
    } else {
      const group = s.stack ? `a:${s.stack}` : `#${i}`;
      const points = data.map((row, j) => {
        const below = s.type === "area" ? base[j][group] || 0 : 0;
        const v = Math.max(0, num(row, s.dataKey)) + below;
        if (s.type === "area") base[j][group] = v;
        return [xMid(j), y(v), y(below)];
      });
      const line = points.map(([px, py]) => `${px},${py}`).join(" ");
      if (s.type === "area" && points.length) {
        const back = points.map(([px, , pb]) => `${px},${pb}`).reverse().join(" ");
        root.append(svg("polygon", { points: `${line} ${back}`, fill: c, "fill-opacity": "0.3", stroke: "none" }));
      }
      root.append(svg("polyline", { points: line, fill: "none", stroke: c, "stroke-width": 2 }));
    }
  });
  const figure = h("figure", { class: "w-chart" }, root);
  setStyle(figure, { width: size(n.width ?? n.size), "max-width": size(n.maxWidth ?? n.maxSize), flex: n.flex != null ? safeCss(n.flex) : null });
  if (n.height != null) root.style.setProperty("height", size(n.height));
  if (n.showLegend !== false && series.length > 1) {
    figure.append(
      h("ul", { class: "w-legend" }, series.map((s, i) => {
        const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
        swatch.style.setProperty("background", color(s, i));
        return h("li", null, swatch, s.label || s.dataKey);
      }))
    );
  }
  const keys = [xKey, ...series.map((s) => s.dataKey)];
  const tableEl = h(
    "table",
    null,
    h("thead", null, h("tr", null, keys.map((k, i) => h("th", { scope: "col", text: i === 0 ? String(k ?? "") : series[i - 1].label || k })))),
    h("tbody", null, data.map((row) => h("tr", null, keys.map((k) => h("td", { text: String(row[k] ?? "") })))))
  );
  figure.append(h("details", { class: "w-chart-data" }, h("summary", { text: t("chartData") }), tableEl));
  return figure;
}
var RENDERERS = {
  Card: card,
  ListView: listView,
  ListViewItem: listViewItem,
  Basic: (n, state) => flexBox("div", n.direction === "row" ? "row" : "col", n, state, `w-basic${n.theme ? ` theme-${n.theme}` : ""}`),
  Box: (n, state) => flexBox("div", n.direction === "row" ? "row" : "col", n, state),
  Row: (n, state) => flexBox("div", "row", n, state),
  Col: (n, state) => flexBox("div", "col", n, state),
  Form: (n, state) => makeForm(n, state, `w-box ${n.direction === "row" ? "w-row" : "w-col"} w-form`, (form) => {
    setStyle(form, boxStyle(n, state));
    form.append(...children(n, state));
  }),
  Spacer: spacer,
  Divider: divider,
  Title: (n, state) => {
    const el = h("p", { class: textClasses("w-title", n), text: n.value || "" });
    setStyle(el, textStyle(n, state));
    return el;
  },
  Caption: (n, state) => {
    const el = h("p", { class: textClasses("w-caption", n), text: n.value || "" });
    setStyle(el, textStyle(n, state));
    return el;
  },
  Text: text,
  Markdown: markdownNode,
  Badge: badge,
  Icon: iconNode,
  Image: image,
  Button: button,
  Input: input,
  Textarea: textarea,
  Select: select,
  Checkbox: checkbox,
  RadioGroup: radioGroup,
  DatePicker: datePicker,
  Label: label,
  Transition: (n, state) => h("div", { class: "w-transition" }, children(n, state)),
  Chart: chart,
  Table: table2
};
var WIDGET_TYPES = Object.keys(RENDERERS);

// src/items.js
var HIDDEN = /* @__PURE__ */ new Set(["end_of_turn", "hidden_context_item", "sdk_hidden_context"]);
function isVisible(item) {
  return item && !HIDDEN.has(item.type);
}
function messageText(item) {
  return (item.content || []).map((part) => part.text || "").join("\n\n");
}
var ItemView = class {
  /** `ctx`: see ChatKitElement#itemContext. */
  constructor(item, ctx) {
    this.item = item;
    this.ctx = ctx;
    this.el = h("li", { class: `item item-${item.type}`, dataset: { itemId: item.id, type: item.type } });
    this.parts = [];
    this.render();
  }
  /** Replace the item (thread.item.done / replaced) and redraw it. */
  replace(item) {
    if (this.item.type === "widget" && item.type === "widget" && this.widgetEl) {
      this.item = item;
      updateWidget(this.widgetEl, item.widget, this.widgetContext());
      return;
    }
    if (this.item.type === "assistant_message" && item.type === "assistant_message" && this.parts.length) {
      this.item = item;
      this.drawText();
      this.drawFooter();
      return;
    }
    this.item = item;
    this.render();
  }
  /** Apply a thread.item.updated payload. Text deltas only mark the text dirty (drawn per frame). */
  applyUpdate(update) {
    const item = this.item;
    switch (update.type) {
      case "assistant_message.content_part.added":
      case "assistant_message.content_part.done": {
        item.content = item.content || [];
        item.content[update.content_index] = update.content;
        this.scheduleText();
        if (update.type.endsWith(".done")) this.drawSources();
        break;
      }
      case "assistant_message.content_part.text_delta": {
        item.content = item.content || [];
        const part = item.content[update.content_index] || (item.content[update.content_index] = { type: "output_text", text: "", annotations: [] });
        part.text += update.delta;
        this.scheduleText();
        break;
      }
      case "assistant_message.content_part.annotation_added": {
        const part = (item.content || [])[update.content_index];
        if (part) {
          part.annotations = part.annotations || [];
          part.annotations[update.annotation_index] = update.annotation;
          this.drawSources();
        }
        break;
      }
      case "widget.root.updated":
      case "widget.component.updated":
      case "widget.streaming_text.value_delta": {
        item.widget = applyWidgetUpdate(item.widget, update);
        if (this.widgetEl) updateWidget(this.widgetEl, item.widget, this.widgetContext());
        break;
      }
      case "workflow.task.added":
      case "workflow.task.updated": {
        if (item.type === "workflow") {
          item.workflow.tasks = item.workflow.tasks || [];
          item.workflow.tasks[update.task_index] = update.task;
        } else if (item.type === "task") item.task = update.task;
        this.render();
        break;
      }
      case "generated_image.updated": {
        item.image = update.image;
        this.progress = update.progress;
        this.render();
        break;
      }
      default:
        break;
    }
  }
  scheduleText() {
    if (!this.textJob) this.textJob = () => this.drawText();
    this.ctx.schedule(this.textJob);
  }
  /** Set while this item streams: a label for a stopped answer, no actions until it is done. */
  setStreaming(streaming, stopped = false) {
    this.streaming = streaming;
    this.stopped = stopped;
    if (this.item.type === "assistant_message") {
      this.drawText();
      this.drawFooter();
    }
  }
  render() {
    const { item, ctx } = this;
    const { t } = ctx;
    this.parts = [];
    this.widgetEl = null;
    this.footer = null;
    this.sourcesEl = null;
    const el = this.el;
    el.replaceChildren();
    switch (item.type) {
      case "user_message": {
        el.append(srOnly(t("you")));
        const bubble = h("div", { class: "bubble" });
        if (item.quoted_text) bubble.append(h("blockquote", { class: "quote", text: item.quoted_text }));
        const text2 = h("div", { class: "user-text" });
        for (const part of item.content || []) {
          if (part.type === "input_tag") text2.append(h("span", { class: "tag", text: part.text }));
          else text2.append(part.text || "");
        }
        bubble.append(text2);
        if ((item.attachments || []).length) bubble.append(attachmentList(item.attachments, ctx));
        el.append(bubble);
        break;
      }
      case "assistant_message": {
        el.append(srOnly(t("assistant")));
        this.body = h("div", { class: "answer" });
        el.append(this.body);
        this.drawText();
        this.drawSources();
        this.drawFooter();
        break;
      }
      case "client_tool_call": {
        const done = item.status === "completed";
        el.append(h("p", { class: "tool-call" }, icon(done ? "check" : "bolt"), h("span", { text: t(done ? "toolDone" : "toolRunning", { name: item.name }) })));
        break;
      }
      case "widget": {
        this.widgetEl = renderWidget(item.widget, this.widgetContext());
        el.append(this.widgetEl);
        break;
      }
      case "generated_image": {
        if (item.image && item.image.url && ctx.imageAllowed(item.image.url)) {
          el.append(h("figure", { class: "generated" }, h("img", { src: item.image.url, alt: t("generatedImage"), referrerpolicy: "no-referrer" })));
        } else {
          const pct = typeof this.progress === "number" ? ` ${Math.round(this.progress * 100)}%` : "";
          el.append(h("p", { class: "muted", text: t("generatingImage") + pct }));
        }
        break;
      }
      case "structured_input":
        el.append(structuredInput(item, ctx));
        break;
      case "workflow":
        el.append(workflow(item.workflow, ctx));
        break;
      case "task":
        el.append(h("ul", { class: "tasks" }, task(item.task, ctx)));
        break;
      default:
        el.append(h("p", { class: "muted", text: item.type }));
    }
  }
  widgetContext() {
    const { ctx } = this;
    return {
      t: ctx.t,
      scheme: ctx.scheme,
      imageAllowed: ctx.imageAllowed,
      onAction: (action, details) => ctx.widgetAction(action, this.item, details)
    };
  }
  drawText() {
    const content = this.item.content || [];
    while (this.parts.length < Math.max(1, content.length)) {
      const el = h("div", { class: "md" });
      this.body.append(el);
      this.parts.push(new MarkdownView(el, { copyLabel: this.ctx.t("copyCode") }));
    }
    content.forEach((part, i) => this.parts[i].update(part.text || ""));
    this.el.classList.toggle("streaming", Boolean(this.streaming));
  }
  drawSources() {
    if (this.item.type !== "assistant_message") return;
    const sources = [];
    const seen = /* @__PURE__ */ new Set();
    for (const part of this.item.content || []) {
      for (const ann of part.annotations || []) {
        const src = ann && ann.source;
        if (!src) continue;
        const key = src.url || src.filename || src.id || src.title;
        if (seen.has(key)) continue;
        seen.add(key);
        sources.push(src);
      }
    }
    if (this.sourcesEl) this.sourcesEl.remove();
    this.sourcesEl = null;
    if (!sources.length) return;
    const headingId = uid("src");
    const list2 = h("ol", { class: "source-list", "aria-labelledby": headingId });
    for (const src of sources) {
      let title;
      if (src.type === "url" && /^https?:/i.test(src.url || "")) {
        title = h("a", { href: src.url, target: "_blank", rel: "noopener noreferrer nofollow", text: src.title || src.url });
      } else {
        title = h("span", { text: src.title || src.filename || src.label || "" });
      }
      const meta = src.type === "file" ? src.filename : src.type === "url" ? src.attribution || hostOf(src.url) : src.label;
      list2.append(h("li", null, src.icon ? icon(src.icon) : icon(src.type === "file" ? "document" : "globe"), title, meta && meta !== src.title ? h("span", { class: "muted", text: ` · ${meta}` }) : null, src.description ? h("p", { class: "muted", text: src.description }) : null));
    }
    this.sourcesEl = h("div", { class: "sources" }, h("p", { class: "sources-title", id: headingId, text: this.ctx.t("sources") }), list2);
    this.body.after(this.sourcesEl);
  }
  drawFooter() {
    if (this.item.type !== "assistant_message") return;
    const { ctx } = this;
    const { t } = ctx;
    if (this.footer) this.footer.remove();
    this.footer = null;
    if (this.streaming) return;
    const row = h("div", { class: "item-actions" });
    if (this.stopped) row.append(h("span", { class: "badge stopped", text: t("stopped") }));
    if (navigator.clipboard) {
      const copy = h("button", { type: "button", class: "icon-button", "aria-label": t("copy"), title: t("copy") }, icon("copy"));
      copy.addEventListener("click", () => {
        navigator.clipboard.writeText(plainText(messageText(this.item))).then(() => {
          copy.setAttribute("aria-label", t("copied"));
          copy.replaceChildren(icon("check"));
        }, () => {
        });
      });
      row.append(copy);
    }
    if (ctx.options.feedback) {
      const given = ctx.feedbackFor(this.item.id);
      for (const [kind, label2, name] of [["positive", t("helpful"), "thumbs-up"], ["negative", t("notHelpful"), "thumbs-down"]]) {
        const b = h("button", { type: "button", class: "icon-button feedback", "aria-label": label2, title: label2, "aria-pressed": String(given === kind), dataset: { kind } }, icon(name));
        if (given) b.setAttribute("aria-disabled", "true");
        b.addEventListener("click", () => {
          if (ctx.feedbackFor(this.item.id)) return;
          ctx.feedback(this.item, kind).then(() => {
            const hadFocus = b.matches(":focus");
            this.drawFooter();
            if (hadFocus && this.footer) this.footer.querySelector(`[data-kind="${kind}"]`)?.focus();
          }, () => {
          });
        });
        row.append(b);
      }
      if (given) row.append(h("span", { class: "muted thanks", role: "status", text: t("feedbackThanks") }));
    }
    if (ctx.options.retry) {
      const b = h("button", { type: "button", class: "icon-button", "aria-label": t("retry"), title: t("retry") }, icon("reload"));
      b.addEventListener("click", () => ctx.retry(this.item, row));
      row.append(b);
    }
    if (row.children.length) {
      this.footer = row;
      this.el.append(row);
    }
  }
};
function hostOf(url) {
  try {
    return new URL(url).host;
  } catch {
    return "";
  }
}
function attachmentList(attachments, ctx, onRemove = null) {
  const list2 = h("ul", { class: "attachments" });
  for (const a of attachments) {
    const chip = h("li", { class: `chip${a.status === "error" ? " failed" : ""}`, dataset: { attachmentId: a.id || "" } });
    const preview = a.type === "image" && (a.preview_url || a.localUrl);
    if (preview && ctx.imageAllowed(preview)) chip.append(h("img", { class: "thumb", src: preview, alt: "", referrerpolicy: "no-referrer" }));
    else chip.append(icon(a.type === "image" ? "square-image" : "document"));
    chip.append(h("span", { class: "chip-name", text: a.name }));
    if (a.status === "uploading") chip.append(h("span", { class: "spinner", role: "img", "aria-label": ctx.t("uploading", { name: a.name }) }));
    if (onRemove) {
      const x = h("button", { type: "button", class: "icon-button small", "aria-label": ctx.t("removeAttachment", { name: a.name }), title: ctx.t("removeAttachment", { name: a.name }) }, icon("close"));
      x.addEventListener("click", () => onRemove(a));
      chip.append(x);
    }
    list2.append(chip);
  }
  return list2;
}
function structuredInput(item, ctx) {
  const { t } = ctx;
  const pending = item.status === "pending";
  const form = h("form", { class: "structured" });
  for (const q of item.inputs || []) {
    const answer = q.answer && q.answer.values || [];
    if (q.type === "multiple_choice") {
      const set = h("fieldset", { disabled: !pending }, h("legend", { text: q.question }));
      for (const opt of q.options || []) {
        set.append(h("label", { class: "w-check" }, h("input", { type: q.multiple ? "checkbox" : "radio", name: q.id, value: opt.value, checked: answer.includes(opt.value) }), h("span", { text: opt.value })));
      }
      form.append(set);
    } else {
      const id = uid("si");
      const field = h("div", { class: "field" }, h("label", { for: id, text: q.question }));
      if (q.description) field.append(h("p", { class: "muted", text: q.description }));
      field.append(h("textarea", { id, name: q.id, rows: 2, class: "w-input", disabled: !pending, value: answer.join(", ") }));
      form.append(field);
    }
  }
  if (pending) {
    const skip = h("button", { type: "button", class: "w-button variant-outline", text: t("skip") });
    skip.addEventListener("click", () => ctx.answerStructured(item, null));
    form.append(h("div", { class: "row-actions" }, skip, h("button", { type: "submit", class: "w-button style-primary", text: t("answer") })));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const answers = {};
      for (const q of item.inputs || []) {
        const values = [...form.elements].filter((el) => el.name === q.id && (el.type === "radio" || el.type === "checkbox" ? el.checked : el.value.trim())).map((el) => el.value.trim());
        answers[q.id] = values.length ? { values, skipped: false } : { values: [], skipped: true };
      }
      ctx.answerStructured(item, answers);
    });
  } else {
    form.append(h("p", { class: "badge", text: t(item.status === "skipped" ? "skipped" : "answered") }));
  }
  return form;
}
function workflow(wf, ctx) {
  const { t } = ctx;
  const tasks = wf.tasks || [];
  const running = tasks.some((task2) => task2.status_indicator === "loading");
  let summary;
  if (wf.summary && wf.summary.title) summary = wf.summary.title;
  else if (wf.summary && typeof wf.summary.duration === "number") summary = `${t("thought")} · ${wf.summary.duration}s`;
  else summary = running ? t("working") : wf.type === "reasoning" ? t("thought") : t("working");
  const details = h("details", { class: "workflow", open: Boolean(wf.expanded) || running });
  details.append(h("summary", null, wf.summary && wf.summary.icon ? icon(wf.summary.icon) : icon(running ? "bolt" : "check"), h("span", { text: summary })));
  details.append(h("ul", { class: "tasks" }, tasks.map((task2) => taskRow(task2, ctx))));
  return details;
}
function task(tk, ctx) {
  return taskRow(tk, ctx);
}
function taskRow(tk, ctx) {
  const { t } = ctx;
  const li = h("li", { class: `task task-${tk.type} status-${tk.status_indicator || "none"}` });
  const mark = tk.status_indicator === "loading" ? h("span", { class: "spinner", "aria-hidden": "true" }) : icon(tk.icon || (tk.status_indicator === "complete" ? "check" : "dots-horizontal"));
  let title = tk.title;
  if (!title) title = { thought: t("thought"), web_search: t("searched"), file: t("files"), image: t("image") }[tk.type] || "";
  li.append(h("div", { class: "task-head" }, mark, h("span", { class: "task-title", text: title })));
  if (tk.type === "custom" && tk.content) li.append(h("p", { class: "muted", text: tk.content }));
  if (tk.type === "thought" && tk.content) li.append(h("p", { class: "muted", text: tk.content }));
  if (tk.type === "web_search") {
    if ((tk.queries || []).length) li.append(h("p", { class: "muted", text: tk.queries.join(" · ") }));
    if ((tk.sources || []).length) {
      li.append(h("ul", { class: "task-sources" }, tk.sources.map((s) => h("li", null, /^https?:/i.test(s.url || "") ? h("a", { href: s.url, target: "_blank", rel: "noopener noreferrer nofollow", text: s.title || s.url }) : s.title))));
    }
  }
  if (tk.type === "file" && (tk.sources || []).length) {
    li.append(h("ul", { class: "task-sources" }, tk.sources.map((s) => h("li", null, icon("document"), s.title || s.filename))));
  }
  return li;
}

// src/chatkit.css
var chatkit_default = '/* <chatkit-onprem>: styles inside the shadow root. Colours, font and radius are custom\n   properties: set them through options.theme, or from the host page with --chatkit-accent,\n   --chatkit-font, --chatkit-radius, --chatkit-background, --chatkit-foreground. */\n\n:host { display: block; height: 100%; min-height: 320px; }\n:host([hidden]) { display: none; }\n\n.ck {\n  --ck-gray-hue: 220;\n  --ck-gray-tint: 10%;\n  --ck-space: 4px;\n  --ck-radius: var(--chatkit-radius, 16px);\n  --ck-font: var(--chatkit-font, system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Ubuntu, Cantarell, sans-serif);\n  --ck-font-mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;\n  --ck-font-size: 15px;\n  --ck-bg: var(--chatkit-background, #ffffff);\n  --ck-bg-2: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 97%);\n  --ck-bg-3: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 93.5%);\n  --ck-bg-elevated: #ffffff;\n  --ck-fg: var(--chatkit-foreground, hsl(var(--ck-gray-hue) 15% 12%));\n  --ck-fg-strong: #000000;\n  --ck-muted: hsl(var(--ck-gray-hue) 8% 37%);\n  --ck-border: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 82%);\n  --ck-border-subtle: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 90%);\n  --ck-border-strong: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 55%);\n  --ck-accent: var(--chatkit-accent, #0b57d0);\n  --ck-on-accent: #ffffff;\n  --ck-success: #1b7a30;\n  --ck-warning: #855600;\n  --ck-danger: #b3261e;\n  --ck-info: #0b57d0;\n  --ck-discovery: #6b3fc2;\n  --ck-error-bg: #fdeceb;\n  --ck-shadow: 0 8px 28px rgb(0 0 0 / 0.18);\n  color-scheme: light;\n\n  position: relative;\n  display: flex;\n  height: 100%;\n  overflow: hidden;\n  background: var(--ck-bg);\n  color: var(--ck-fg);\n  font-family: var(--ck-font);\n  font-size: var(--ck-font-size);\n  line-height: 1.5;\n  -webkit-text-size-adjust: 100%;\n}\n\n.ck[data-scheme="dark"] {\n  --ck-bg: var(--chatkit-background, #16181c);\n  --ck-bg-2: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 12%);\n  --ck-bg-3: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 17%);\n  --ck-bg-elevated: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 14%);\n  --ck-fg: var(--chatkit-foreground, #e8eaed);\n  --ck-fg-strong: #ffffff;\n  --ck-muted: hsl(var(--ck-gray-hue) 8% 72%);\n  --ck-border: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 28%);\n  --ck-border-subtle: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 22%);\n  --ck-border-strong: hsl(var(--ck-gray-hue) var(--ck-gray-tint) 50%);\n  --ck-accent: var(--chatkit-accent, #8ab4f8);\n  --ck-on-accent: #0b1d3a;\n  --ck-success: #81c995;\n  --ck-warning: #fdd663;\n  --ck-danger: #f28b82;\n  --ck-info: #8ab4f8;\n  --ck-discovery: #c58af9;\n  --ck-error-bg: #3c1f1e;\n  --ck-shadow: 0 8px 28px rgb(0 0 0 / 0.6);\n  color-scheme: dark;\n}\n\n*, *::before, *::after { box-sizing: border-box; }\np { margin: 0; }\nbutton, input, select, textarea { font: inherit; color: inherit; }\na { color: var(--ck-accent); text-underline-offset: 2px; }\n:focus-visible { outline: 2px solid var(--ck-accent); outline-offset: 2px; }\n[hidden] { display: none !important; }\n.sr-only {\n  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;\n  clip: rect(0 0 0 0); white-space: nowrap; border: 0;\n}\n.muted { color: var(--ck-muted); }\n.icon { width: 20px; height: 20px; flex: none; fill: none; stroke: currentColor; stroke-width: 1.8; stroke-linecap: round; stroke-linejoin: round; }\n.icon .filled { fill: currentColor; }\n\n/* ---- buttons ---- */\nbutton { cursor: pointer; }\nbutton:disabled { cursor: default; opacity: 0.55; }\n.icon-button {\n  display: inline-flex; align-items: center; justify-content: center;\n  min-width: 36px; min-height: 36px; padding: 6px; border: 0; border-radius: 999px;\n  background: transparent; color: var(--ck-fg);\n}\n.icon-button:hover:not(:disabled) { background: var(--ck-bg-3); }\n.icon-button.small { min-width: 28px; min-height: 28px; padding: 4px; }\n.icon-button.small .icon { width: 16px; height: 16px; }\n.icon-button.primary { background: var(--ck-accent); color: var(--ck-on-accent); }\n.icon-button.primary:hover:not(:disabled) { background: var(--ck-accent); filter: brightness(1.08); }\n.icon-button[aria-pressed="true"] { color: var(--ck-accent); background: var(--ck-bg-3); }\n.icon-button[aria-disabled="true"] { cursor: default; }\n.load-more, .new-chat, .prompt {\n  display: inline-flex; align-items: center; gap: 8px; padding: 8px 12px;\n  border: 1px solid var(--ck-border); border-radius: min(var(--ck-radius), 12px);\n  background: var(--ck-bg); color: var(--ck-fg);\n}\n.load-more { margin: 8px auto; display: flex; }\n.load-more:hover, .new-chat:hover, .prompt:hover { background: var(--ck-bg-3); }\n\n/* ---- history ---- */\n.history {\n  width: 264px; flex: none; display: flex; flex-direction: column; gap: 8px;\n  padding: 12px; overflow-y: auto; background: var(--ck-bg-2); border-right: 1px solid var(--ck-border);\n}\n.history-head { display: flex; align-items: center; justify-content: space-between; min-height: 36px; }\n.history-title { font-weight: 600; }\n.new-chat { width: 100%; }\n.thread-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 2px; }\n.thread-list li { display: flex; align-items: center; gap: 2px; border-radius: 10px; }\n.thread-list li:hover { background: var(--ck-bg-3); }\n.thread-link {\n  flex: 1; min-width: 0; min-height: 36px; padding: 6px 8px; border: 0; border-radius: 10px;\n  background: transparent; text-align: start; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;\n}\n.thread-link span { display: block; overflow: hidden; text-overflow: ellipsis; }\n.thread-link[aria-current="true"] { background: var(--ck-bg-3); font-weight: 600; }\n.ck.narrow .history {\n  position: absolute; inset: 0 auto 0 0; z-index: 10; width: min(320px, 86%); box-shadow: var(--ck-shadow);\n}\n.backdrop { position: absolute; inset: 0; z-index: 9; background: rgb(0 0 0 / 0.4); }\n.confirm { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; padding: 8px; width: 100%; }\n.confirm p { flex-basis: 100%; }\n.rename input { flex: 1; min-width: 0; }\n\n/* ---- main column ---- */\n.main { flex: 1; min-width: 0; display: flex; flex-direction: column; }\n.header {\n  display: flex; align-items: center; gap: 4px; min-height: 52px; padding: 8px 12px;\n  border-bottom: 1px solid var(--ck-border-subtle);\n}\n.title { flex: 1; min-width: 0; margin: 0 4px; font-size: 1rem; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }\n.scroller { flex: 1; min-height: 0; overflow-y: auto; padding: calc(var(--ck-space) * 5) calc(var(--ck-space) * 4); scroll-behavior: auto; }\n.scroller:focus-visible { outline-offset: -2px; }\n.start { max-width: 760px; margin: 12vh auto 0; text-align: center; display: flex; flex-direction: column; gap: 16px; align-items: center; }\n.greeting { font-size: 1.5rem; font-weight: 600; }\n.prompts { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; justify-content: center; gap: 8px; }\n.thread { max-width: 760px; margin: 0 auto; }\n.items { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: calc(var(--ck-space) * 4); }\n.item { min-width: 0; }\n/* Long threads: items out of view skip layout and paint (the newest stay exact for scrolling). */\n.items > .item:not(:nth-last-child(-n+4)) { content-visibility: auto; contain-intrinsic-size: auto 96px; }\n.item-user_message { align-self: flex-end; max-width: min(85%, 640px); }\n.bubble { padding: 8px 14px; border-radius: min(var(--ck-radius), 20px); background: var(--ck-bg-3); overflow-wrap: anywhere; }\n.user-text { white-space: pre-wrap; }\n.tag { padding: 0 6px; border-radius: 6px; background: var(--ck-bg); font-weight: 600; }\n.quote { margin: 0 0 6px; padding-left: 8px; border-left: 3px solid var(--ck-border-strong); color: var(--ck-muted); }\n.answer { overflow-wrap: anywhere; }\n.item.streaming .md:last-child > :last-child::after {\n  content: ""; display: inline-block; width: 0.55em; height: 1em; margin-left: 2px; vertical-align: -0.12em;\n  background: var(--ck-muted); animation: ck-blink 1s steps(2) infinite;\n}\n@keyframes ck-blink { 50% { opacity: 0; } }\n@media (prefers-reduced-motion: reduce) { .item.streaming .md:last-child > :last-child::after { animation: none; } .spinner { animation: none !important; } }\n.item-actions { display: flex; flex-wrap: wrap; align-items: center; gap: 2px; margin-top: 4px; color: var(--ck-muted); }\n.item-actions .icon-button { color: var(--ck-muted); }\n.item-actions .icon-button[aria-pressed="true"] { color: var(--ck-accent); }\n.thanks { margin-left: 6px; font-size: 0.875rem; }\n.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; background: var(--ck-bg-3); color: var(--ck-muted); font-size: 0.8125rem; }\n.tool-call, .progress { display: flex; align-items: center; gap: 8px; color: var(--ck-muted); font-size: 0.9375rem; }\n.thread-status { display: flex; flex-direction: column; gap: 8px; margin-top: 12px; }\n.error, .notice {\n  display: flex; align-items: center; gap: 8px; flex-wrap: wrap; padding: 8px 12px; border-radius: 12px;\n  background: var(--ck-error-bg); color: var(--ck-fg); border: 1px solid var(--ck-danger);\n}\n.error > span, .notice > .md { flex: 1; min-width: 12em; }\n.notice { background: var(--ck-bg-2); border-color: var(--ck-border); }\n.notice-warning { border-color: var(--ck-warning); }\n.notice-danger { border-color: var(--ck-danger); background: var(--ck-error-bg); }\n.notice-title { flex-basis: 100%; font-weight: 600; }\n.spinner {\n  display: inline-block; width: 16px; height: 16px; flex: none; border-radius: 50%;\n  border: 2px solid var(--ck-border); border-top-color: var(--ck-accent); animation: ck-spin 0.8s linear infinite;\n}\n@keyframes ck-spin { to { transform: rotate(360deg); } }\n\n/* ---- markdown ---- */\n.md > * + * { margin-top: 0.6em; }\n.md p, .md ul, .md ol, .md blockquote, .md pre, .md h3, .md h4, .md h5, .md h6 { margin-bottom: 0; }\n.md ul, .md ol { padding-left: 1.5em; }\n.md ul { list-style: disc; }\n.md ul ul { list-style: circle; }\n.md ol { list-style: decimal; }\n.md li + li { margin-top: 0.2em; }\n.md-h { margin: 0.8em 0 0; line-height: 1.3; }\nh3.md-h { font-size: 1.2em; }\nh4.md-h { font-size: 1.08em; }\nh5.md-h, h6.md-h { font-size: 1em; }\n.md blockquote { margin-left: 0; padding-left: 12px; border-left: 3px solid var(--ck-border-strong); color: var(--ck-muted); }\n.md code { font-family: var(--ck-font-mono); font-size: 0.9em; padding: 0.1em 0.35em; border-radius: 5px; background: var(--ck-bg-3); }\n.md-code { position: relative; }\n.md pre { margin: 0; padding: 12px; overflow-x: auto; border-radius: 10px; background: var(--ck-bg-3); }\n.md pre code { padding: 0; background: none; font-size: 0.875rem; }\n.md-copy {\n  position: absolute; top: 6px; right: 6px; padding: 2px 8px; font-size: 0.8125rem;\n  border: 1px solid var(--ck-border); border-radius: 6px; background: var(--ck-bg); color: var(--ck-fg);\n}\n.md hr { border: 0; border-top: 1px solid var(--ck-border); }\n.md-table { overflow-x: auto; }\n.md table, .w-table { border-collapse: collapse; }\n.md th, .md td, .w-table th, .w-table td { padding: 6px 10px; border: 1px solid var(--ck-border); text-align: start; vertical-align: top; }\n.md th, .w-table th { background: var(--ck-bg-2); font-weight: 600; }\n\n/* ---- sources, attachments, workflows ---- */\n.sources { margin-top: 8px; padding: 8px 12px; border-radius: 12px; background: var(--ck-bg-2); font-size: 0.9375rem; }\n.sources-title { font-weight: 600; }\n.source-list { margin: 4px 0 0; padding-left: 1.5em; }\n.source-list .icon { width: 14px; height: 14px; margin-right: 4px; vertical-align: -2px; }\n.attachments { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 6px; }\n.drafts .attachments { margin: 0 0 6px; }\n.chip {\n  display: inline-flex; align-items: center; gap: 6px; max-width: 100%; padding: 4px 6px 4px 4px;\n  border: 1px solid var(--ck-border); border-radius: 10px; background: var(--ck-bg);\n}\n.chip-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; max-width: 16em; }\n.chip .thumb { width: 40px; height: 40px; object-fit: cover; border-radius: 6px; }\n.workflow { border: 1px solid var(--ck-border-subtle); border-radius: 12px; padding: 6px 10px; }\n.workflow summary { display: flex; align-items: center; gap: 8px; cursor: pointer; color: var(--ck-muted); list-style-position: inside; }\n.tasks { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }\n.task-head { display: flex; align-items: center; gap: 8px; }\n.task-title { font-weight: 500; }\n.task > p, .task-sources { margin: 2px 0 0 28px; font-size: 0.9375rem; }\n.task-sources { padding-left: 1em; }\n.generated img { max-width: 100%; border-radius: 12px; }\n.structured { display: flex; flex-direction: column; gap: 10px; padding: 12px; border: 1px solid var(--ck-border); border-radius: 14px; }\n.structured fieldset { margin: 0; padding: 0; border: 0; display: flex; flex-direction: column; gap: 4px; }\n.structured legend, .structured .field > label { font-weight: 600; margin-bottom: 4px; padding: 0; }\n.field { display: flex; flex-direction: column; gap: 4px; }\n.row-actions { display: flex; gap: 8px; justify-content: flex-end; }\n\n/* ---- composer ---- */\n.composer { margin: 0 auto; width: 100%; max-width: 792px; padding: 8px 16px 12px; }\n.composer-row {\n  display: flex; align-items: flex-end; gap: 6px; padding: 6px; border: 1px solid var(--ck-border);\n  border-radius: min(var(--ck-radius), 26px); background: var(--ck-bg);\n}\n.composer-row:focus-within { border-color: var(--ck-accent); }\n.input {\n  flex: 1; min-width: 0; min-height: 36px; max-height: 200px; padding: 7px 6px; border: 0; resize: none;\n  background: transparent; line-height: 1.45; outline: none;\n}\n.input::placeholder { color: var(--ck-muted); opacity: 1; }\n.composer-row:has(.input:focus-visible) { outline: 2px solid var(--ck-accent); outline-offset: 1px; }\n.model { max-width: 10em; min-height: 36px; border: 1px solid var(--ck-border); border-radius: 10px; background: var(--ck-bg); padding: 0 6px; }\n.send.stopping { background: var(--ck-fg); color: var(--ck-bg); }\n.composer-error:not(:empty) { margin-bottom: 6px; }\n.locked { margin-bottom: 6px; color: var(--ck-muted); }\n.disclaimer { max-width: 760px; margin: -4px auto 10px; padding: 0 16px; font-size: 0.8125rem; color: var(--ck-muted); text-align: center; }\n.disclaimer.strong { color: var(--ck-fg); }\n\n/* ---- widgets ---- */\n.widget { max-width: 100%; }\n.w-card { display: flex; flex-direction: column; border: 1px solid var(--ck-border); border-radius: min(var(--ck-radius), 16px); background: var(--ck-bg-elevated); overflow: hidden; max-width: 100%; }\n.card-sm { max-width: 360px; } .card-md { max-width: 480px; } .card-lg { max-width: 640px; } .card-full { max-width: none; }\n.w-card-body { display: flex; flex-direction: column; gap: calc(var(--ck-space) * 2); padding: calc(var(--ck-space) * 4); }\n.w-card-footer { display: flex; justify-content: flex-end; gap: 8px; padding: 0 calc(var(--ck-space) * 4) calc(var(--ck-space) * 4); }\n.w-status { display: flex; align-items: center; gap: 6px; padding: 8px 16px 0; color: var(--ck-muted); font-size: 0.875rem; }\n.w-status .favicon { width: 16px; height: 16px; border-radius: 4px; }\n.w-collapsed summary { padding: 8px 16px; cursor: pointer; }\n.w-box { display: flex; min-width: 0; }\n.w-row { flex-direction: row; align-items: center; gap: calc(var(--ck-space) * 2); }\n.w-col { flex-direction: column; gap: calc(var(--ck-space) * 2); }\n.w-form { margin: 0; }\n.w-spacer { flex: 1 1 auto; }\n.w-divider { align-self: stretch; width: auto; margin: 4px 0; border: 0; border-top: 1px solid var(--ck-border); }\n.w-divider.flush { margin-left: calc(var(--ck-space) * -4); margin-right: calc(var(--ck-space) * -4); }\n.w-title { font-weight: 600; font-size: 1.125rem; line-height: 1.3; }\n.w-title.size-sm { font-size: 1rem; } .w-title.size-md { font-size: 1.125rem; } .w-title.size-lg { font-size: 1.25rem; }\n.w-title.size-xl { font-size: 1.5rem; } .w-title.size-2xl { font-size: 1.75rem; } .w-title.size-3xl { font-size: 2rem; }\n.w-title.size-4xl { font-size: 2.25rem; } .w-title.size-5xl { font-size: 2.5rem; }\n.w-text.size-xs, .w-label.size-xs { font-size: 0.75rem; } .w-text.size-sm, .w-label.size-sm { font-size: 0.875rem; }\n.w-text.size-lg, .w-label.size-lg { font-size: 1.0625rem; } .w-text.size-xl, .w-label.size-xl { font-size: 1.25rem; }\n.w-caption { color: var(--ck-muted); font-size: 0.8125rem; }\n.w-caption.size-sm { font-size: 0.75rem; } .w-caption.size-lg { font-size: 0.875rem; }\n.weight-normal { font-weight: 400; } .weight-medium { font-weight: 500; } .weight-semibold { font-weight: 600; } .weight-bold { font-weight: 700; }\n.truncate { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0; }\n.clamp { display: -webkit-box; -webkit-box-orient: vertical; overflow: hidden; }\n.w-markdown { min-width: 0; }\n.w-badge { display: inline-flex; align-items: center; width: fit-content; padding: 1px 8px; border-radius: 6px; font-size: 0.8125rem; font-weight: 500; --b: var(--ck-muted); }\n.w-badge.pill { border-radius: 999px; }\n.w-badge.size-sm { font-size: 0.75rem; } .w-badge.size-lg { font-size: 0.9375rem; padding: 2px 10px; }\n.badge-secondary { --b: var(--ck-muted); } .badge-success { --b: var(--ck-success); } .badge-danger { --b: var(--ck-danger); }\n.badge-warning { --b: var(--ck-warning); } .badge-info { --b: var(--ck-info); } .badge-discovery { --b: var(--ck-discovery); }\n.w-badge.variant-soft { background: color-mix(in srgb, var(--b) 12%, var(--ck-bg)); color: var(--b); }\n.w-badge.variant-solid { background: var(--b); color: var(--ck-bg); }\n.w-badge.variant-outline { border: 1px solid var(--b); color: var(--b); }\n.w-icon { width: 20px; height: 20px; }\n.w-icon.size-xs { width: 12px; height: 12px; } .w-icon.size-sm { width: 16px; height: 16px; } .w-icon.size-lg { width: 24px; height: 24px; }\n.w-icon.size-xl { width: 28px; height: 28px; } .w-icon.size-2xl { width: 32px; height: 32px; } .w-icon.size-3xl { width: 40px; height: 40px; }\n.w-image { display: block; max-width: 100%; height: auto; }\n.w-image.framed { border: 1px solid var(--ck-border); padding: 2px; }\n.w-image-blocked { color: var(--ck-muted); font-size: 0.875rem; }\n.w-button {\n  --b: var(--ck-accent); --on-b: var(--ck-on-accent);\n  display: inline-flex; align-items: center; justify-content: center; gap: 6px; min-height: 36px; padding: 6px 14px;\n  border: 1px solid transparent; border-radius: 10px; background: var(--b); color: var(--on-b); font-weight: 500; width: fit-content;\n}\n.w-button:hover:not(:disabled) { filter: brightness(1.08); }\n.w-button .icon { width: 18px; height: 18px; }\n.w-button.style-secondary, .w-button.color-secondary { --b: var(--ck-bg-3); --on-b: var(--ck-fg); }\n.w-button.color-success { --b: var(--ck-success); --on-b: var(--ck-bg); }\n.w-button.color-danger { --b: var(--ck-danger); --on-b: var(--ck-bg); }\n.w-button.color-warning, .w-button.color-caution { --b: var(--ck-warning); --on-b: var(--ck-bg); }\n.w-button.color-info { --b: var(--ck-info); --on-b: var(--ck-bg); }\n.w-button.color-discovery { --b: var(--ck-discovery); --on-b: var(--ck-bg); }\n.w-button.variant-soft { background: color-mix(in srgb, var(--b) 12%, var(--ck-bg)); color: var(--ck-fg); }\n.w-button.variant-outline { background: transparent; border-color: var(--ck-border-strong); color: var(--ck-fg); }\n.w-button.variant-ghost { background: transparent; color: var(--ck-fg); }\n.w-button.pill { border-radius: 999px; } .w-button.block { width: 100%; } .w-button.uniform { padding: 6px; aspect-ratio: 1; }\n.w-button.size-sm, .w-button.size-xs, .w-button.size-2xs, .w-button.size-3xs { min-height: 28px; padding: 2px 10px; font-size: 0.875rem; }\n.w-button.size-lg, .w-button.size-xl, .w-button.size-2xl, .w-button.size-3xl { min-height: 44px; padding: 8px 18px; }\n.w-button[aria-busy="true"] { cursor: progress; }\n.widget[aria-busy="true"] { opacity: 0.7; }\n.w-input, .w-select, .w-date {\n  min-height: 36px; padding: 6px 10px; border: 1px solid var(--ck-border-strong); border-radius: 10px;\n  background: var(--ck-bg); color: var(--ck-fg); max-width: 100%;\n}\n.w-input.pill, .w-select.pill { border-radius: 999px; }\n.w-input.variant-soft { background: var(--ck-bg-3); border-color: transparent; }\n.w-select.block, .w-date.block { width: 100%; }\n.w-textarea { resize: vertical; width: 100%; }\n.w-form .w-input:not(.w-text-edit) { width: 100%; }\n.w-check { display: inline-flex; align-items: center; gap: 8px; min-height: 28px; }\n.w-check input { width: 18px; height: 18px; margin: 0; accent-color: var(--ck-accent); }\n.w-radios { margin: 0; padding: 0; border: 0; display: flex; }\n.w-radios.w-row { flex-wrap: wrap; }\n.w-label { font-weight: 500; }\n.w-list { border: 1px solid var(--ck-border); border-radius: min(var(--ck-radius), 16px); background: var(--ck-bg-elevated); overflow: hidden; }\n.w-list-items { list-style: none; margin: 0; padding: 0; }\n.w-list-items > li + li { border-top: 1px solid var(--ck-border-subtle); }\n.w-list-item { padding: 10px 16px; }\n.w-list-item.clickable { cursor: pointer; }\n.w-list-item.clickable:hover { background: var(--ck-bg-2); }\n.w-more { display: block; width: 100%; padding: 8px; border: 0; border-top: 1px solid var(--ck-border-subtle); background: transparent; color: var(--ck-accent); }\n.w-table-wrap { overflow-x: auto; max-width: 100%; }\n.w-table { width: 100%; font-size: 0.9375rem; }\n.w-chart { margin: 0; min-width: 0; }\n.w-chart-svg { display: block; width: 100%; height: auto; max-height: 260px; overflow: visible; }\n.w-chart-svg .axis { stroke: var(--ck-border-strong); }\n.w-chart-svg .tick { fill: var(--ck-muted); font-size: 12px; font-family: var(--ck-font); }\n.w-legend { list-style: none; margin: 6px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 12px; font-size: 0.875rem; }\n.w-legend .swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 3px; }\n.w-chart-data summary { cursor: pointer; font-size: 0.875rem; color: var(--ck-muted); }\n.w-chart-data table { border-collapse: collapse; margin-top: 4px; font-size: 0.875rem; }\n.w-chart-data th, .w-chart-data td { padding: 2px 8px; border: 1px solid var(--ck-border); }\n.theme-dark { color-scheme: dark; }\n\n/* ---- narrow: 360 px and up ---- */\n.ck.narrow .scroller { padding: 12px 10px; }\n.ck.narrow .composer { padding: 6px 8px 8px; }\n.ck.narrow .item-user_message { max-width: 92%; }\n.ck.narrow .header { padding: 6px 8px; min-height: 48px; }\n.ck.narrow .start { margin-top: 6vh; }\n.ck.narrow .greeting { font-size: 1.25rem; }\n.ck.narrow .model { max-width: 6.5em; }\n';

// src/chatkit.js
performance.mark("chatkit-onprem:evaluate");
var THREAD_PAGE = 30;
var ITEM_PAGE = 50;
var NARROW_PX = 720;
var STORE_PREFIX = "chatkit-onprem:";
var RESUME_POLL_MS = 500;
var RESUME_MAX_MS = 15e3;
var STYLESHEET = new URL("./chatkit.css", import.meta.url).href;
var sharedSheet = constructedSheet(chatkit_default);
var VERSION = "f8e20ccd9071";
function constructedSheet(css) {
  if (typeof CSSStyleSheet !== "function" || !("replaceSync" in CSSStyleSheet.prototype)) return null;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  return sheet;
}
var RADII = { pill: "999px", round: "16px", soft: "10px", sharp: "3px" };
var DENSITY = { compact: "3px", normal: "4px", spacious: "5px" };
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
      rightAction: header.rightAction || null
    },
    history: { enabled: history.enabled !== false, showDelete: history.showDelete !== false, showRename: history.showRename !== false },
    startScreen: { greeting: o.startScreen && o.startScreen.greeting || null, prompts: o.startScreen && o.startScreen.prompts || [] },
    actions: { feedback: Boolean(o.threadItemActions && o.threadItemActions.feedback), retry: Boolean(o.threadItemActions && o.threadItemActions.retry) },
    composer: {
      placeholder: composer.placeholder || null,
      attachments: {
        enabled: Boolean(attachments.enabled),
        maxSize: attachments.maxSize ?? 100 * 1024 * 1024,
        maxCount: attachments.maxCount ?? 10,
        accept: attachments.accept || null
      },
      models: Array.isArray(composer.models) ? composer.models : []
    },
    disclaimer: o.disclaimer && o.disclaimer.text ? o.disclaimer : null,
    onAction: o.widgets && typeof o.widgets.onAction === "function" ? o.widgets.onAction : null,
    autoScroll: Boolean(o.thread && o.thread.autoScroll)
  };
}
var ThreadView = class {
  constructor(id) {
    this.id = id;
    this.thread = null;
    this.items = /* @__PURE__ */ new Map();
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
};
var ChatKitElement = class extends HTMLElement {
  #o = null;
  #t = translator("en");
  #api = null;
  #built = false;
  #whenBuilt;
  #resolveBuilt;
  #ui = {};
  #view = new ThreadView(null);
  #views = /* @__PURE__ */ new Map();
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
    if (sharedSheet) this.shadowRoot.adoptedStyleSheets = [sharedSheet];
    this.#whenBuilt = new Promise((resolve) => {
      this.#resolveBuilt = resolve;
    });
  }
  connectedCallback() {
    if (!this.#o && this.getAttribute("api-url")) {
      this.setOptions({ api: { url: this.getAttribute("api-url") }, locale: this.getAttribute("locale") || void 0 });
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
      toolChoice: params.toolChoice || null
    });
  }
  async setComposerValue(params = {}) {
    await this.#whenBuilt;
    const { input: input2 } = this.#ui;
    if (params.text != null) input2.value = params.text;
    else if (params.content) input2.value = params.content.map((part) => part.text || "").join(" ");
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
    const ui = this.#ui = {};
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
      ui.moreThreads
    );
    ui.toggle = h("button", { type: "button", class: "icon-button", "aria-controls": ui.historyId, onclick: () => this.#setHistory(!this.#historyIsOpen(), true) }, icon("history"));
    const headerAction = (action) => action && h("button", { type: "button", class: "icon-button", "aria-label": String(action.icon).replace(/-/g, " "), title: String(action.icon).replace(/-/g, " "), onclick: () => action.onClick && action.onClick() }, icon(action.icon));
    ui.header = h(
      "div",
      { class: "header" },
      headerAction(o.header.leftAction),
      o.history.enabled ? ui.toggle : null,
      ui.title,
      h("button", { type: "button", class: "icon-button", "aria-label": t("newChat"), title: t("newChat"), onclick: () => this.#newChat() }, icon("compose")),
      headerAction(o.header.rightAction)
    );
    if (!o.header.enabled) ui.header.hidden = true;
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
      const files = [...ev.clipboardData && ev.clipboardData.files || []];
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
      if (accept) ui.file.setAttribute("accept", Object.entries(accept).flatMap(([mime, exts]) => [mime, ...exts || []]).join(","));
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
      this.#addFiles([...ev.dataTransfer && ev.dataTransfer.files || []]);
    });
    const disclaimer = o.disclaimer ? h("div", { class: `disclaimer md${o.disclaimer.highContrast ? " strong" : ""}` }, renderMarkdown(o.disclaimer.text)) : null;
    ui.main = h("div", { class: "main" }, ui.header, ui.alerts, ui.scroller, ui.form, disclaimer, ui.announcer);
    ui.backdrop = h("div", { class: "backdrop", hidden: true, onclick: () => this.#setHistory(false, true) });
    ui.root = h("div", { class: "ck", role: "region", "aria-label": o.frameTitle || t("chat"), lang: t.lang }, o.history.enabled ? ui.history : null, ui.backdrop, ui.main);
    ui.root.addEventListener("keydown", (ev) => this.#onKeydown(ev));
    this.#applyTheme(ui.root);
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
    if (sharedSheet) return;
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
      "--ck-font-mono": typo.fontFamilyMono && typo.fontFamilyMono.replace(/[;{}]/g, "")
    });
    for (const font of typo.fontSources || []) {
      try {
        const face = new FontFace(font.family, `url(${JSON.stringify(font.src)})`, { weight: String(font.weight || "normal"), style: font.style || "normal", display: font.display || "swap", unicodeRange: font.unicodeRange || "U+0-10FFFF" });
        document.fonts.add(face);
        face.load().catch(() => {
        });
      } catch {
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
    const drawer = open && this.#narrow;
    ui.backdrop.hidden = !drawer;
    ui.main.inert = drawer;
    ui.closeHistory.hidden = !this.#narrow;
    ui.toggle.setAttribute("aria-expanded", String(open));
    const label2 = this.#t(open ? "hideHistory" : "showHistory");
    ui.toggle.setAttribute("aria-label", label2);
    ui.toggle.title = label2;
  }
  #onKeydown(ev) {
    if (ev.key === "Tab" && this.#narrow && this.#historyIsOpen()) {
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
    const text2 = o.header.title.text || thread && thread.title || (this.#view.id ? this.#t("untitled") : this.#t("newChat"));
    this.#ui.title.textContent = text2;
    this.#ui.title.hidden = !o.header.title.enabled;
  }
  #renderStart() {
    const { start } = this.#ui;
    const show = !this.#view.id && this.#view.isEmpty();
    start.hidden = !show;
    if (!show) return;
    const o = this.#o;
    const prompts = o.startScreen.prompts.map(
      (p) => h("li", null, h("button", { type: "button", class: "prompt", onclick: () => this.#sendPrompt(p) }, p.icon ? icon(p.icon) : null, h("span", { text: p.label || p.name || "" })))
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
    const label2 = streaming ? t("stop") : t("send");
    ui.send.setAttribute("aria-label", label2);
    ui.send.title = label2;
    ui.send.classList.toggle("stopping", streaming);
    ui.send.disabled = streaming && !view.stream.allowCancel || !streaming && this.#draft.attachments.some((a) => a.status === "uploading");
    ui.form.setAttribute("aria-busy", String(streaming));
    const status2 = view.thread && view.thread.status;
    const closed = status2 && status2.type !== "active";
    ui.locked.hidden = !closed;
    if (closed) {
      const kind = status2.type === "closed" ? "closed" : "locked";
      ui.locked.textContent = status2.reason ? t(`${kind}Reason`, { reason: status2.reason }) : t(kind);
    }
    ui.input.disabled = Boolean(closed);
    if (ui.attach) ui.attach.disabled = Boolean(closed);
  }
  #fitInput() {
    const input2 = this.#ui.input;
    input2.style.setProperty("height", "auto");
    input2.style.setProperty("height", `${Math.min(input2.scrollHeight, 200)}px`);
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
        this.#api.call("items.list", { thread_id: threadId, limit: ITEM_PAGE, order: "desc" })
      ]);
      view.thread = { ...thread, items: void 0 };
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
        this.#api.call("items.list", { thread_id: view.id, limit: ITEM_PAGE, order: "desc" })
      ]);
      view.thread = { ...thread, items: void 0 };
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
      answerStructured: (item, answers) => this.#answerStructured(view, item, answers)
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
    if (retry) box.append(h("button", { type: "button", class: "w-button variant-outline", text: this.#t("retry"), onclick: () => {
      box.remove();
      retry();
    } }));
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
    const list2 = this.#threads.list;
    const i = list2.findIndex((th) => th.id === thread.id);
    if (i >= 0) list2[i] = { ...list2[i], ...thread, items: void 0 };
    else list2.unshift({ ...thread, items: void 0 });
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
      })
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
      const link2 = li.querySelector(".thread-link");
      if (!link2) continue;
      if (li.dataset.threadId === this.#view.id) link2.setAttribute("aria-current", "true");
      else link2.removeAttribute("aria-current");
    }
  }
  #rename(li, thread) {
    const t = this.#t;
    const id = uid("rename");
    const input2 = h("input", { id, class: "w-input", value: thread.title || "" });
    const cancel = () => this.#renderThreads();
    const save = async () => {
      const title = input2.value.trim();
      if (!title) return cancel();
      try {
        const updated = await this.#api.call("threads.update", { thread_id: thread.id, title });
        this.#log("thread.rename", { threadId: thread.id });
        this.#upsertThread(updated);
        const view = this.#views.get(thread.id) || (this.#view.id === thread.id ? this.#view : null);
        if (view) view.thread = { ...view.thread || {}, title: updated.title };
        if (this.#view.id === thread.id) this.#renderHeader();
        const link2 = this.#ui.threadList.querySelector(`[data-thread-id="${CSS.escape(thread.id)}"] .thread-link`);
        if (link2) link2.focus();
      } catch (err) {
        this.#error(err);
        this.#showComposerError(describeError(err, t));
      }
    };
    input2.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        save();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation();
        cancel();
      }
    });
    const form = h("form", { class: "rename confirm" }, h("label", { class: "sr-only", for: id, text: t("newTitle") }), input2, h("button", { type: "submit", class: "w-button style-primary", text: t("save") }), h("button", { type: "button", class: "w-button variant-outline", text: t("cancel"), onclick: cancel }));
    form._cancel = cancel;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      save();
    });
    li.replaceChildren(form);
    input2.focus();
    input2.select();
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
      }
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
      this.#waitingForUploads = true;
      await Promise.allSettled(uploading.map((a) => a.upload));
      this.#waitingForUploads = false;
      if (this.#view.stream) return;
    }
    const text2 = ui.input.value.trim();
    const ready = this.#draft.attachments.filter((a) => a.status === "ready");
    if (!text2 && !ready.length) return;
    const snapshot = { text: ui.input.value, attachments: this.#draft.attachments };
    ui.input.value = "";
    this.#fitInput();
    this.#draft.attachments = [];
    this.#renderDraft();
    ui.input.focus();
    this.#sendMessage(
      { content: [{ type: "input_text", text: text2 }], attachments: ready.map((a) => a.id), model: ui.model ? ui.model.value : null },
      snapshot
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
    const input2 = { content, attachments, quoted_text: quoted, inference_options: inference };
    this.#atBottom = true;
    this.#log("message.send", { threadId: view.id, attachments: attachments.length });
    const type = view.id ? "threads.add_user_message" : "threads.create";
    const params = view.id ? { thread_id: view.id, input: input2 } : { input: input2 };
    try {
      await this.#stream(view, type, params);
    } catch (err) {
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
    const stream = { view, type, controller: new AbortController(), allowCancel: true, stopped: false, accepted: false, streaming: /* @__PURE__ */ new Set(), clientTool: null, failed: false };
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
        view.thread = { ...event.thread, items: void 0 };
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
        view.thread = { ...view.thread || {}, ...event.thread, items: void 0 };
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
    const text2 = plainText(messageText(item));
    if (!text2) return;
    const clipped = text2.length > 600 ? `${text2.slice(0, 600)}…` : text2;
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
    if (!force && this.#ui.scroller.scrollTop < this.#autoTop - 4) this.#atBottom = false;
    if (force || this.#atBottom && (this.#o.autoScroll || !this.#view.stream)) this.#scrollToBottom();
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
      const image2 = /^image\//.test(file.type);
      const entry = { localId: uid("up"), name: file.name, mime_type: file.type, type: image2 ? "image" : "file", status: "uploading", localUrl: image2 ? URL.createObjectURL(file) : null };
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
        this.#api.call("attachments.delete", { attachment_id: attachment.id }).catch(() => {
        });
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
    const list2 = this.#draft.attachments;
    const ctx = { t: this.#t, imageAllowed: (url) => this.#imageAllowed(url, this.#view) };
    this.#ui.drafts.replaceChildren(
      list2.length ? attachmentList(list2, ctx, (a) => {
        this.#draft.attachments = this.#draft.attachments.filter((x) => x !== a);
        a.removed = true;
        if (a.id && a.status === "ready") this.#api.call("attachments.delete", { attachment_id: a.id }).catch(() => {
        });
        if (a.localUrl) URL.revokeObjectURL(a.localUrl);
        this.#renderDraft();
        this.#ui.input.focus();
      }) : ""
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
    const yes = h("button", { type: "button", class: "w-button style-primary", text: t("retry"), onclick: () => {
      box.remove();
      row.hidden = false;
      this.#retryFrom(view, user.item);
    } });
    const box = h("div", { class: "confirm", role: "group", "aria-label": t("retry") }, h("p", { text: t("retryWarning", { count: later }) }), yes, h("button", { type: "button", class: "w-button variant-outline", text: t("cancel"), onclick: cancel }));
    box._cancel = cancel;
    row.hidden = true;
    row.after(box);
    yes.focus();
  }
  async #retryFrom(view, userItem) {
    if (view.stream) return;
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
    const input2 = answers ? { status: "answered", answers } : { status: "skipped", answers: {} };
    await this.#stream(view, "threads.add_structured_input", { thread_id: view.id, item_id: item.id, input: input2 });
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
      result = { error: String(err && err.message || err) };
    }
    this.#log("client_tool", { threadId: view.id, name: item.name });
    const iv = view.items.get(item.id);
    if (iv) iv.replace({ ...item, status: "completed", output: result });
    await this.#stream(view, "threads.add_client_tool_output", { thread_id: view.id, result: result ?? {} });
  }
  // ---- reload while an answer streamed -------------------------------------------------------
  /** Called on pagehide: remember which threads were streaming, so a reload can wait for them. */
  rememberStreams() {
    for (const view of /* @__PURE__ */ new Set([this.#view, ...this.#views.values()])) {
      if (view.stream && view.id) sessionStorageSafe("set", `${STORE_PREFIX}streaming:${view.id}`, String(Date.now()));
    }
  }
  async #resumeIfInterrupted(view) {
    const key = `${STORE_PREFIX}streaming:${view.id}`;
    const since = Number(sessionStorageSafe("get", key));
    if (!since) return;
    sessionStorageSafe("remove", key);
    if (Date.now() - since > 12e4) return;
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
};
function noop() {
}
function focusableIn(el) {
  return el.querySelector("button, a[href], input, textarea, select, [tabindex='0']");
}
function sessionStorageSafe(op, key, value) {
  try {
    if (op === "get") return sessionStorage.getItem(key);
    if (op === "set") sessionStorage.setItem(key, value);
    if (op === "remove") sessionStorage.removeItem(key);
  } catch {
  }
  return null;
}
function feedbackStore() {
  const key = `${STORE_PREFIX}feedback`;
  let map;
  try {
    map = new Map(Object.entries(JSON.parse(sessionStorageSafe("get", key) || "{}")));
  } catch {
    map = /* @__PURE__ */ new Map();
  }
  return {
    get: (id) => map.get(id) || null,
    set: (id, kind) => {
      map.set(id, kind);
      const entries = [...map.entries()].slice(-500);
      sessionStorageSafe("set", key, JSON.stringify(Object.fromEntries(entries)));
    }
  };
}
function accepts(accept, file) {
  if (!accept) return true;
  const name = file.name.toLowerCase();
  for (const [mime, exts] of Object.entries(accept)) {
    if (mime === file.type || mime.endsWith("/*") && file.type.startsWith(mime.slice(0, -1))) return true;
    if ((exts || []).some((ext) => name.endsWith(String(ext).toLowerCase()))) return true;
  }
  return false;
}
function maxSizeFor(maxSize, type) {
  if (typeof maxSize === "number") return maxSize;
  let fallback = 100 * 1024 * 1024;
  for (const [pattern, limit] of Object.entries(maxSize || {})) {
    if (pattern === "*" || pattern === "") fallback = limit;
    else if (pattern === type || pattern.endsWith("/*") && type.startsWith(pattern.slice(0, -1))) return limit;
  }
  return fallback;
}
function formatBytes(n) {
  if (n >= 1024 * 1024) return `${Math.round(n / (1024 * 1024) * 10) / 10} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}
if (!customElements.get("chatkit-onprem")) customElements.define("chatkit-onprem", ChatKitElement);
if (typeof window !== "undefined") {
  window.addEventListener("pagehide", () => {
    for (const el of document.querySelectorAll("chatkit-onprem")) if (el.rememberStreams) el.rememberStreams();
  });
}
function createChatKit(element, options) {
  let el = element;
  if (!el || el.localName !== "chatkit-onprem") {
    el = document.createElement("chatkit-onprem");
    (element || document.body).append(el);
  }
  el.setOptions(options);
  return el;
}
export {
  ChatKitElement,
  VERSION,
  createChatKit
};
//# sourceMappingURL=chatkit.js.map
