// The host app of the browser tests: another origin, its user's IdP token on every request
// (api.fetch), the thread kept in the URL (chatkit.thread.change + initialThread), every event
// recorded in window.__events. `configure(extra)` sets the options again (setOptions replaces).
const server = document.querySelector('meta[name="chatkit-server"]').content;
const params = new URL(location.href).searchParams;
const chat = document.getElementById("chat");
let token = null;
window.breakToken = false;

async function idpToken() {
  if (window.breakToken) return "not-a-valid-token";
  if (!token) token = (await (await fetch(`/token?user=${encodeURIComponent(params.get("user") || "alice")}`)).json()).token;
  return token;
}

async function withToken(url, init = {}) {
  const headers = new Headers(init.headers || {});
  headers.set("Authorization", `Bearer ${await idpToken()}`);
  return fetch(url, { ...init, headers });
}

function plain(detail) {
  if (detail === undefined || detail === null) return detail ?? null;
  if (detail.error instanceof Error) return { error: { name: detail.error.name, message: detail.error.message, isError: true } };
  return JSON.parse(JSON.stringify(detail));
}

window.__events = [];
for (const name of ["chatkit.ready", "chatkit.error", "chatkit.response.start", "chatkit.response.end", "chatkit.thread.change",
  "chatkit.thread.load.start", "chatkit.thread.load.end", "chatkit.log", "chatkit.effect"]) {
  chat.addEventListener(name, (event) => window.__events.push({ name, detail: plain(event.detail), at: performance.now() }));
}

chat.addEventListener("chatkit.thread.change", (event) => {
  const url = new URL(location.href);
  if (event.detail.threadId) url.searchParams.set("thread", event.detail.threadId);
  else url.searchParams.delete("thread");
  history.replaceState(null, "", url);
});

window.toolCalls = [];
window.clientActions = [];
window.configure = (extra = {}) =>
  chat.setOptions({
    api: { url: `${server}/chatkit`, fetch: withToken },
    initialThread: new URL(location.href).searchParams.get("thread"),
    history: { enabled: true, showDelete: true, showRename: true },
    threadItemActions: { feedback: true, retry: true },
    composer: { attachments: { enabled: true, maxCount: 3 }, placeholder: "Ask the assistant" },
    startScreen: { greeting: "How can I help?", prompts: [{ label: "Say hello", prompt: "hello from a prompt", icon: "sparkle" }] },
    thread: { autoScroll: true },
    onClientTool: (call) => {
      window.toolCalls.push(call);
      return { selection: "text the host app selected" };
    },
    widgets: { onAction: async (action, item) => { window.clientActions.push({ action, itemId: item.id }); } },
    ...extra,
  });

customElements.whenDefined("chatkit-onprem").then(() => {
  if (params.get("manual") !== "1") window.configure(params.get("theme") ? { theme: params.get("theme") } : {});
});
