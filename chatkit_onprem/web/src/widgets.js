// Widgets of openai-chatkit 1.6.5 (chatkit/widgets.py) plus Table (Table, Table.Row, Table.Cell),
// rendered as DOM. Actions go through `ctx.onAction(action, details)`; form values (every named
// control of the enclosing form) are merged into the action's payload. Values the user typed
// survive re-renders of the widget (streamed updates) until an action sends them.

import { h, icon, setStyle, svg, uid } from "./dom.js";
import { MarkdownView } from "./markdown.js";

const ALIGN = { start: "flex-start", end: "flex-end", center: "center", baseline: "baseline", stretch: "stretch" };
const JUSTIFY = { ...ALIGN, between: "space-between", around: "space-around", evenly: "space-evenly" };
const RADIUS = { "2xs": "2px", xs: "4px", sm: "6px", md: "8px", lg: "12px", xl: "16px", "2xl": "20px", "3xl": "24px", "4xl": "32px", full: "9999px", "100%": "100%", none: "0" };
const TEXT_COLORS = { prose: "var(--ck-fg)", primary: "var(--ck-fg)", emphasis: "var(--ck-fg-strong)", secondary: "var(--ck-muted)", tertiary: "var(--ck-muted)", success: "var(--ck-success)", warning: "var(--ck-warning)", danger: "var(--ck-danger)" };
const BG_COLORS = { surface: "var(--ck-bg)", "surface-secondary": "var(--ck-bg-2)", "surface-tertiary": "var(--ck-bg-3)", "surface-elevated": "var(--ck-bg-elevated)", "surface-elevated-secondary": "var(--ck-bg-2)" };
const BORDER_COLORS = { default: "var(--ck-border)", subtle: "var(--ck-border-subtle)", strong: "var(--ck-border-strong)" };
const HUES = { red: 0, orange: 25, amber: 38, yellow: 48, lime: 85, green: 140, emerald: 155, teal: 175, cyan: 190, sky: 200, blue: 215, indigo: 235, violet: 258, purple: 272, fuchsia: 295, pink: 330, rose: 350, gray: 220, slate: 215, zinc: 240, neutral: 0, stone: 30 };
const LIGHTNESS = { 50: 97, 100: 93, 200: 86, 300: 76, 400: 64, 500: 53, 600: 45, 700: 37, 800: 29, 900: 22, 950: 15 };
const CHART_COLORS = { blue: "hsl(215 75% 50%)", purple: "hsl(272 60% 55%)", orange: "hsl(25 85% 50%)", green: "hsl(140 55% 38%)", red: "hsl(0 70% 50%)", yellow: "hsl(45 90% 45%)", pink: "hsl(330 70% 55%)" };
const CHART_ORDER = ["blue", "orange", "green", "purple", "red", "yellow", "pink"];

/**
 * Render a widget root into a fresh container. `ctx`: {t, scheme, imageAllowed(url),
 * onAction(action, {itemId, widget, form, control, container}), itemId}.
 */
export function renderWidget(widget, ctx) {
  const container = h("div", { class: "widget" });
  container._dirty = new Map();
  container.addEventListener("input", (ev) => remember(container, ev.target));
  container.addEventListener("change", (ev) => remember(container, ev.target));
  paint(container, widget, ctx);
  return container;
}

/** Re-render after the widget changed, keeping what the user typed. */
export function updateWidget(container, widget, ctx) {
  paint(container, widget, ctx);
}

/** Apply a streamed update (widget.* item updates) to `widget`; returns the new root. */
export function applyWidgetUpdate(widget, update) {
  if (update.type === "widget.root.updated") return update.widget;
  if (update.type === "widget.component.updated") return replaceNode(widget, update.component_id, () => update.component);
  if (update.type === "widget.streaming_text.value_delta") {
    return replaceNode(widget, update.component_id, (node) => ({ ...node, value: (node.value || "") + update.delta }));
  }
  return widget;
}

function replaceNode(node, id, replace) {
  if (!node || typeof node !== "object") return node;
  if (node.id === id) return replace(node);
  const out = { ...node };
  if (Array.isArray(node.children)) out.children = node.children.map((c) => replaceNode(c, id, replace));
  else if (node.children && typeof node.children === "object") out.children = replaceNode(node.children, id, replace);
  return out;
}

function remember(container, target) {
  if (!target || !target.name) return;
  const value = target.type === "checkbox" ? target.checked : target.value;
  if (target.type === "radio" && !target.checked) return;
  container._dirty.set(target.name, value);
}

function paint(container, widget, ctx) {
  const state = { ctx, widget, container, labels: new Set(), ids: new Map(), form: null };
  collectLabels(widget, state.labels);
  const root = node(widget, state);
  container.replaceChildren(...(root ? [root] : []));
  // Values the user typed, applied over the defaults of the new render.
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

// ---- style helpers ---------------------------------------------------------------------

/** CSS values from the server go through this: no url(), no declarations smuggled in. */
export function safeCss(value) {
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
    ...borders(n.border, state),
  };
}

function textStyle(n, state) {
  const style = {
    color: colorOf(n.color, state, TEXT_COLORS),
    "text-align": { start: "start", center: "center", end: "end" }[n.textAlign],
    "font-style": n.italic ? "italic" : null,
    "text-decoration": n.lineThrough ? "line-through" : null,
    width: size(n.width),
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

// ---- actions ---------------------------------------------------------------------------

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
  const values = { ...formValues(form), ...(extra || {}) };
  const base = action.payload && typeof action.payload === "object" && !Array.isArray(action.payload) ? action.payload : {};
  const payload = Object.keys(values).length ? { ...base, ...values } : action.payload;
  const sent = { ...action, payload };
  state.container._dirty.clear();
  state.ctx.onAction(sent, { widget: state.widget, form, control, container: state.container });
}

// ---- renderers ---------------------------------------------------------------------------

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
    const action = (submitter && submitter._action) || n.onSubmitAction || (n.confirm && n.confirm.action);
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
  const fill = (el) => {
    const head = status(n.status, state);
    if (head) el.append(head);
    const body = h("div", { class: "w-card-body" });
    setStyle(body, spacing(n.padding, "padding"));
    body.append(...children(n, state));
    if (n.collapsed) {
      el.append(h("details", { class: "w-collapsed" }, h("summary", { text: state.ctx.t("showMore") }), body));
    } else el.append(body);
    const foot = footer();
    if (foot) el.append(foot);
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
  const list = h("ul", { class: "w-list-items" });
  const limit = typeof n.limit === "number" ? n.limit : items.length;
  list.append(...items.slice(0, limit));
  wrap.append(list);
  if (items.length > limit) {
    const more = h("button", { type: "button", class: "w-more", text: state.ctx.t("showMore") });
    more.addEventListener("click", () => {
      const first = items[limit];
      list.append(...items.slice(limit));
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
    const input = h("input", {
      class: textClasses("w-input w-text-edit", n),
      name: e.name,
      value: n.value || "",
      placeholder: e.placeholder,
      pattern: e.pattern,
      required: e.required,
      autocomplete: e.autoComplete,
      "aria-label": e.placeholder || e.name,
    });
    if (e.autoFocus) queueMicrotask(() => input.focus());
    return input;
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
    "aria-label": fieldLabel(n, state, n.placeholder),
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
    "aria-label": fieldLabel(n, state, n.placeholder),
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
    "aria-label": fieldLabel(n, state, n.placeholder),
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
  const day = (v) => (typeof v === "string" ? v.slice(0, 10) : null);
  const el = h("input", {
    class: `w-input w-date${n.block ? " block" : ""}`,
    type: "date",
    id: fieldId(state, n.name),
    name: n.name,
    value: day(n.defaultValue) || "",
    min: day(n.min),
    max: day(n.max),
    disabled: Boolean(n.disabled),
    "aria-label": fieldLabel(n, state, n.placeholder),
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
    required: Boolean(n.required),
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
      required: Boolean(n.required),
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
    ...spacing(n.margin, "margin"),
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
    "margin-bottom": space(n.spacing),
  });
  return el;
}

function spacer(n) {
  const el = h("div", { class: "w-spacer", "aria-hidden": "true" });
  setStyle(el, { "min-width": size(n.minSize), "min-height": size(n.minSize) });
  return el;
}

function table(n, state) {
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
        ...spacing(cell.padding, "padding"),
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
  const xLabels = (n.xAxis && typeof n.xAxis === "object" && n.xAxis.labels) || {};
  const hideX = n.xAxis && typeof n.xAxis === "object" && n.xAxis.hide;
  const W = 600;
  const H = 220;
  const left = n.showYAxis === false ? 8 : 44;
  const bottom = hideX ? 8 : 28;
  const top = 8;
  const plotW = W - left - 8;
  const plotH = H - top - bottom;
  const color = (s, i) => colorOf(s.color, state, CHART_COLORS) || CHART_COLORS[CHART_ORDER[i % CHART_ORDER.length]];
  const num = (row, key) => (typeof row[key] === "number" ? row[key] : Number(row[key]) || 0);

  // Stacked series add up; the scale's maximum is the largest stack or value.
  const stackTotals = data.map((row) => {
    const totals = {};
    series.forEach((s, i) => {
      const key = s.stack ? `${s.type}:${s.stack}` : `${s.type}:#${i}`;
      totals[key] = (totals[key] || 0) + Math.max(0, num(row, s.dataKey));
    });
    return totals;
  });
  const max = Math.max(1, ...stackTotals.flatMap((totals) => Object.values(totals)));
  const y = (v) => top + plotH - (v / max) * plotH;
  const band = plotW / Math.max(1, data.length);
  const xMid = (i) => left + band * i + band / 2;

  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "w-chart-svg", role: "img", "aria-label": t("chart", { series: series.map((s) => s.label || s.dataKey).join(", ") }) });
  root.append(svg("line", { x1: left, y1: top + plotH, x2: W - 8, y2: top + plotH, class: "axis" }));
  if (n.showYAxis !== false) {
    for (const frac of [0, 0.5, 1]) {
      const v = max * frac;
      const label = svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" });
      label.textContent = Number.isInteger(v) ? String(v) : v.toFixed(1);
      root.append(label);
    }
  }
  if (!hideX) {
    data.forEach((row, i) => {
      const label = svg("text", { x: xMid(i), y: H - 8, "text-anchor": "middle", class: "tick" });
      const raw = String(row[xKey] ?? "");
      label.textContent = xLabels[raw] ?? raw;
      root.append(label);
    });
  }
  const barGroups = [...new Set(series.map((s, i) => (s.type === "bar" ? (s.stack ? `s:${s.stack}` : `#${i}`) : null)).filter(Boolean))];
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
      })),
    );
  }
  // The numbers, for screen readers and anyone who wants them.
  const keys = [xKey, ...series.map((s) => s.dataKey)];
  const tableEl = h("table", null,
    h("thead", null, h("tr", null, keys.map((k, i) => h("th", { scope: "col", text: i === 0 ? String(k ?? "") : series[i - 1].label || k })))),
    h("tbody", null, data.map((row) => h("tr", null, keys.map((k) => h("td", { text: String(row[k] ?? "") }))))),
  );
  figure.append(h("details", { class: "w-chart-data" }, h("summary", { text: t("chartData") }), tableEl));
  return figure;
}

const RENDERERS = {
  Card: card,
  ListView: listView,
  ListViewItem: listViewItem,
  Basic: (n, state) => flexBox("div", n.direction === "row" ? "row" : "col", n, state, `w-basic${n.theme ? ` theme-${n.theme}` : ""}`),
  Box: (n, state) => flexBox("div", n.direction === "row" ? "row" : "col", n, state),
  Row: (n, state) => flexBox("div", "row", n, state),
  Col: (n, state) => flexBox("div", "col", n, state),
  Form: (n, state) =>
    makeForm(n, state, `w-box ${n.direction === "row" ? "w-row" : "w-col"} w-form`, (form) => {
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
  Table: table,
};

export const WIDGET_TYPES = Object.keys(RENDERERS);
