// The demo page: log in over REST, then authenticate the socket with the same token.
import { AuthSocket } from "/vendor/socketioxide-jwt-client/index.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "chat-demo-token";

/** What a person should read for each error code of the contract. */
const EXPLAIN = {
  credentials_required: "No token was sent. Please log in.",
  credentials_bad_format: "The stored token is malformed. Please log in again.",
  invalid_token: "Your token was rejected: it is invalid (bad signature or claims). Please log in again.",
  token_expired: "Your session has expired. Please log in again.",
  timeout: "The server did not receive your credentials in time. Check your connection and log in again.",
  revoked: "Your session was revoked. Please log in again.",
  forbidden: "You are not allowed in. Please log in again.",
  // The demo's own code (AuthError::custom): the account behind the token is gone.
  no_account: "This account no longer exists.",
};

const config = await fetch("/config.json")
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
  .catch((err) => {
    $("load-error").hidden = false;
    throw err;
  });
$("mode").textContent = config.mode;

// With --token-cookie the server keeps the token in an HttpOnly cookie that this page cannot
// read: the page keeps none (the handshake and REST calls carry the cookie by themselves).
const cookieMode = config.tokenCookie === true;
let token = cookieMode ? null : sessionStorage.getItem(TOKEN_KEY);
let auth = null;
let refreshes = 0;

function setToken(value) {
  if (cookieMode) return;
  token = value;
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

async function postJson(path, body, headers = {}) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const data = await res.json().catch(() => ({}));
  return { res, data };
}

async function logIn(username, password) {
  const { res, data } = await postJson("/login", { username, password });
  if (res.status === 401) throw new Error("Wrong username or password.");
  if (!res.ok) throw new Error(data.message ?? `Login failed (HTTP ${res.status}).`);
  return data.token;
}

/** The rooms this token grants (its `rooms` claim, as the server verified it): the room picker. */
function showRooms(rooms) {
  const select = $("room");
  const current = select.value;
  select.replaceChildren(new Option("everyone", ""), ...rooms.map((r) => new Option(`#${r}`, r)));
  if (rooms.includes(current)) select.value = current;
}

/**
 * A fresh token for the current one: for in-band refresh (before expiry, or when the server warns
 * with token_expiring), and after the server refused an expired or revoked token (the refresh
 * then fails too, and the page says so: log in again).
 */
async function refreshToken() {
  // In cookie mode the cookie goes by itself, and the answer sets a fresh one; the token in the
  // answer is only passed on, in-band, to the socket.
  const headers = cookieMode ? {} : { authorization: `Bearer ${token}` };
  const { res, data } = await postJson("/token/refresh", {}, headers);
  if (!res.ok) throw new Error(data.message ?? "refresh failed");
  setToken(data.token);
  return data.token;
}

function showView(name) {
  $("login-view").hidden = name !== "login";
  $("chat-view").hidden = name !== "chat";
}

function render(state, error) {
  const status = $("status");
  status.dataset.state = state;
  const who = auth?.info?.sub;
  status.textContent = {
    idle: "signed out",
    connecting: "connecting…",
    authenticating: "authenticating…",
    authenticated: `authenticated as ${who ?? "?"}`,
    waiting: "server unavailable: trying again shortly…",
    unauthorized: `unauthorized: ${error?.message ?? "refused"} (${error?.code ?? "?"})`,
  }[state];
  // Sending needs an authenticated socket: off while connecting, and for good once refused.
  $("message").disabled = state !== "authenticated";
  $("send").disabled = state !== "authenticated";
  // Once refused, the socket hears no more presence: the list would only go stale.
  if (state === "unauthorized") $("users").replaceChildren();
  const box = $("socket-error");
  box.hidden = state !== "unauthorized";
  if (state === "unauthorized") {
    box.dataset.code = error?.code ?? "";
    $("socket-error-text").textContent = EXPLAIN[error?.code] ?? error?.message ?? "Refused.";
  }
}

function addMessage({ from, text, room }) {
  const li = document.createElement("li");
  const b = document.createElement("b");
  b.textContent = from;
  if (room) {
    const tag = document.createElement("span");
    tag.className = "room";
    tag.textContent = `#${room}`;
    li.dataset.room = room;
    li.append(tag, " ");
  }
  li.append(b, document.createTextNode(` ${text}`));
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
}

function startChat() {
  auth?.disconnect();
  refreshes = 0;
  $("refresh-count").textContent = "0";
  $("messages").replaceChildren();
  $("users").replaceChildren();
  showView("chat");
  auth = new AuthSocket({
    url: location.origin,
    mode: config.mode,
    socketOptions: { path: config.path },
    // In cookie mode a (re)connection sends no token: the handshake carries the cookie.
    getToken: ({ reason }) => (["refresh", "expired", "revoked"].includes(reason) ? refreshToken() : cookieMode ? "" : token),
  });
  auth.onStateChange(render);
  auth.connect();
  const socket = auth.socket;
  let authenticatedOnce = false;
  socket.on("authenticated", () => {
    if (authenticatedOnce) $("refresh-count").textContent = String(++refreshes);
    authenticatedOnce = true;
    render(auth.state, auth.lastError);
    // A refreshed token may grant other rooms: ask the server what this socket holds now.
    socket.emit("whoami", (me) => showRooms(Array.isArray(me?.rooms) ? me.rooms : []));
  });
  socket.on("chat message", addMessage);
  socket.on("presence", ({ users }) => {
    $("users").replaceChildren(
      ...users.map((u) => {
        const li = document.createElement("li");
        li.textContent = u;
        return li;
      }),
    );
  });
  auth.authenticated().catch(() => {
    /* shown by render() */
  });
}

function logOut() {
  auth?.disconnect();
  auth = null;
  setToken(null);
  if (cookieMode) fetch("/logout", { method: "POST" }).catch(() => {});
  render("idle", null);
  $("socket-error").hidden = true;
  showView("login");
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("login-error");
  error.hidden = true;
  $("login-button").disabled = true;
  try {
    setToken(await logIn($("username").value, $("password").value));
    $("password").value = "";
    startChat();
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  } finally {
    $("login-button").disabled = false;
  }
});

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("message");
  const text = input.value.trim();
  if (!text || auth?.state !== "authenticated") return;
  const room = $("room").value;
  auth.socket.emit("chat message", room ? { text, room } : { text }, (ack) => {
    const error = $("chat-error");
    error.hidden = !ack?.code;
    if (ack?.code) error.textContent = `${ack.message} (${ack.code})`;
  });
  input.value = "";
});

$("logout").addEventListener("click", logOut);
$("relogin").addEventListener("click", logOut);

setInterval(() => {
  const exp = auth?.state === "authenticated" ? auth.info?.exp : undefined;
  $("token-expiry").textContent = exp ? `${Math.max(0, Math.round(exp - Date.now() / 1000))} s` : "–";
}, 500);

// Already logged in (a reload keeps the token for this tab; in cookie mode, the cookie does).
const loggedIn = cookieMode ? await fetch("/api/me").then((r) => r.ok, () => false) : Boolean(token);
if (loggedIn) startChat();
else showView("login");
