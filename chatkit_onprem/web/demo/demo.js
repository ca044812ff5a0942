// The demo page: embeds <chatkit-onprem> against this server, keeps the thread in the URL
// (?thread=…, via the official chatkit.thread.change event and initialThread), and in
// development lets you pick an identity (X-Dev-User / X-Dev-Tenant headers or a bearer token).
import { createChatKit } from "../ui/chatkit.js";

const chat = document.getElementById("chat");
const themeButton = document.getElementById("theme");
const identityForm = document.getElementById("identity-form");
const store = {
  get: (key) => localStorage.getItem(`ck-demo.${key}`) || "",
  set: (key, value) => localStorage.setItem(`ck-demo.${key}`, value),
};

function identityHeaders() {
  if (!identityForm) return {};
  const headers = {};
  if (store.get("user")) headers["X-Dev-User"] = store.get("user");
  if (store.get("tenant")) headers["X-Dev-Tenant"] = store.get("tenant");
  const token = sessionStorage.getItem("ck-demo.token");
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

function authFetch(url, init = {}) {
  const headers = new Headers(init.headers || {});
  for (const [name, value] of Object.entries(identityHeaders())) headers.set(name, value);
  return fetch(url, { ...init, headers });
}

let dark = localStorage.getItem("ck-demo.theme")
  ? localStorage.getItem("ck-demo.theme") === "dark"
  : window.matchMedia("(prefers-color-scheme: dark)").matches;

function options(initialThread) {
  return {
    api: { url: new URL("chatkit", document.baseURI).href, fetch: authFetch, uploadStrategy: { type: "two_phase" } },
    theme: { colorScheme: dark ? "dark" : "light", radius: "round" },
    initialThread,
    history: { enabled: true, showDelete: true, showRename: true },
    startScreen: {
      greeting: "What can I help with today?",
      prompts: [
        { label: "Show a widget", prompt: "show me a widget", icon: "square-image" },
        { label: "Report progress", prompt: "run something with progress", icon: "bolt" },
        { label: "Ask me questions", prompt: "ask me something", icon: "circle-question" },
        { label: "A long answer", prompt: "give me a long answer", icon: "notebook" },
      ],
    },
    threadItemActions: { feedback: true, retry: true },
    composer: {
      placeholder: "Message (try: widget, progress, client tool, ask me, lock, long, fail)",
      attachments: { enabled: true, maxSize: 20 * 1024 * 1024, maxCount: 5 },
    },
    disclaimer: { text: "Answers come from the model this server is configured with." },
    thread: { autoScroll: true },
    onClientTool: ({ name }) => {
      if (name === "get_selection") return { selection: String(window.getSelection() || "") || "(nothing selected)" };
      throw new Error(`unknown client tool ${name}`);
    },
  };
}

function currentThread() {
  return new URL(location.href).searchParams.get("thread");
}

function applyTheme() {
  document.body.classList.toggle("dark", dark);
  themeButton.setAttribute("aria-pressed", String(dark));
}

chat.addEventListener("chatkit.thread.change", (event) => {
  const url = new URL(location.href);
  if (event.detail.threadId) url.searchParams.set("thread", event.detail.threadId);
  else url.searchParams.delete("thread");
  history.replaceState(null, "", url);
});

themeButton.addEventListener("click", () => {
  dark = !dark;
  localStorage.setItem("ck-demo.theme", dark ? "dark" : "light");
  applyTheme();
  chat.setOptions(options(currentThread()));
});

if (identityForm) {
  const user = document.getElementById("dev-user");
  const tenant = document.getElementById("dev-tenant");
  const token = document.getElementById("token");
  user.value = store.get("user");
  tenant.value = store.get("tenant");
  token.value = sessionStorage.getItem("ck-demo.token") || "";
  identityForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    store.set("user", user.value.trim());
    store.set("tenant", tenant.value.trim());
    sessionStorage.setItem("ck-demo.token", token.value.trim());
    await chat.setThreadId(null);
    await chat.fetchUpdates();
    document.getElementById("identity").open = false;
  });
}

applyTheme();
createChatKit(chat, options(currentThread()));
