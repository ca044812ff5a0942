// DOM helpers. Nothing in the component uses innerHTML: every node is built here, text goes
// through textContent, styles through the CSSOM (allowed under a strict host CSP).

const SVG = "http://www.w3.org/2000/svg";

/** h("button", {class: "x", onclick: fn, "aria-label": "Send"}, child, "text") */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) setProps(el, props);
  append(el, children);
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

export function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Styles as an object of CSS properties (custom properties included); null values are skipped. */
export function setStyle(el, style) {
  for (const key in style) {
    const value = style[key];
    if (value == null || value === "") continue;
    el.style.setProperty(key, String(value));
  }
}

/** Visually hidden text for screen readers. */
export function srOnly(text) {
  return h("span", { class: "sr-only", text });
}

let counter = 0;
/** A document-unique id for label/aria references inside the shadow root. */
export function uid(prefix = "ck") {
  counter += 1;
  return `${prefix}-${counter}`;
}

// Icons: simple stroked 24×24 shapes drawn for this component. Unknown names get a dot.
const PATHS = {
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
  keys: "M14 10a4 4 0 1 0-4 4M14 10l6 6v4h-4v-2h-2v-2h-2l-2-2",
};

/** An inline SVG icon, hidden from assistive technology (buttons carry their own labels). */
export function icon(name, className = "icon") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", className);
  const key = typeof name === "string" && name.startsWith("lucide:") ? name.slice(7) : name;
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[key] || "M12 12.01h.01M12 16a4 4 0 1 0 0-8 4 4 0 0 0 0 8z");
  if (key === "star-filled" || key === "check-circle-filled") path.setAttribute("class", "filled");
  svg.append(path);
  return svg;
}

export function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const key in attrs) if (attrs[key] != null) el.setAttribute(key, String(attrs[key]));
  return el;
}

/**
 * Coalesce work to one run per animation frame, at most every `minMs`; `after` runs once after
 * each run's jobs (e.g. keep the view scrolled to the newest output).
 */
export function frameScheduler(minMs = 0, after = null) {
  const pending = new Set();
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
    // Wait out the interval with a timer, not frame by frame: every requested animation frame
    // makes the browser run a frame (style, layout, paint), even an empty one.
    const wait = last + minMs - performance.now();
    if (wait > 1) setTimeout(() => requestAnimationFrame(run), wait);
    else requestAnimationFrame(run);
  };
}
