// The guest page a join link's QR code opens: join once, keep the identity in this browser
// (localStorage, never in the address), resume after a reload, run three steps, share the
// result, erase oneself. It talks only to this server, with the token in a header.

const KEY = "session-runtime.guest";
const $ = (id) => document.getElementById(id);
const VIEWS = ["start-view", "name-view", "portrait-view", "finish-view", "done-view"];

let identity = null;
let session = null;

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").classList.toggle("error", isError);
}

function show(view) {
  for (const name of VIEWS) $(name).hidden = name !== view;
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (identity) headers.Authorization = `Bearer ${identity.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error((data && data.error && data.error.message) || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

function stored() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY));
    if (value && value.token && Date.parse(value.expiresAt) > Date.now()) return value;
  } catch {
    // an unreadable entry is as good as none
  }
  localStorage.removeItem(KEY);
  return null;
}

async function join(code) {
  const joined = await call("POST", `/v1/join/${encodeURIComponent(code)}`);
  identity = { ...joined, code };
  localStorage.setItem(KEY, JSON.stringify(identity));
}

function sessionsPath() {
  return `/v1/projects/${encodeURIComponent(identity.projectId)}/sessions`;
}

function render() {
  $("erase").hidden = false;
  if (!session) {
    $("session-line").hidden = true;
    show("start-view");
    say("You are in. Tap Start when you are ready.");
    return;
  }
  $("session-line").hidden = false;
  $("session-id").textContent = session.id;
  $("step").textContent = String(session.currentStepIndex);
  $("session-line").dataset.status = session.status;
  if (session.status === "completed") {
    show("done-view");
    say("Your result is ready.");
  } else if (session.status !== "active") {
    session = null;
    render();
  } else {
    show(["name-view", "portrait-view", "finish-view"][Math.min(session.currentStepIndex, 2)]);
    if (session.outputs.portrait) $("preview").src = session.outputs.portrait.url;
    say(`Step ${session.currentStepIndex + 1} of 3`);
  }
}

async function progress(changes) {
  session = await call("PATCH", `${sessionsPath()}/${encodeURIComponent(session.id)}`, changes);
  render();
}

async function start() {
  const [events, experiences] = await Promise.all([
    call("GET", `/v1/projects/${encodeURIComponent(identity.projectId)}/events`),
    call("GET", `/v1/projects/${encodeURIComponent(identity.projectId)}/experiences`),
  ]);
  const eventId = identity.eventId || (events.items[0] && events.items[0].id);
  const experience = experiences.items[0];
  if (!eventId || !experience) throw new Error("This event has nothing to run yet.");
  const created = await call("POST", sessionsPath(), {
    eventId,
    experienceId: experience.id,
    mode: "guest",
    configSource: "published",
  });
  session = created.session;
  render();
}

async function share() {
  const link = await call("POST", `${sessionsPath()}/${encodeURIComponent(session.id)}/shares`, {});
  $("share-link").href = link.url;
  $("share-link").textContent = link.url;
  $("share-box").hidden = false;
}

async function erase() {
  const erased = await call("DELETE", "/v1/me");
  localStorage.removeItem(KEY);
  identity = null;
  session = null;
  show(null);
  $("session-line").hidden = true;
  $("erase").hidden = true;
  say(`Your data was erased (${erased.sessions} session(s)).`);
}

function guarded(action) {
  return async () => {
    try {
      await action();
    } catch (error) {
      if (error.status === 401) localStorage.removeItem(KEY);
      say(error.message, true);
    }
  };
}

async function main() {
  const match = location.pathname.match(/^\/join\/([^/]+)$/);
  const code = match ? decodeURIComponent(match[1]) : null;
  identity = stored();
  if (!identity || (code && identity.code !== code)) {
    if (!code) throw new Error("Open the link of your event's QR code to join.");
    await join(code);
  }
  const mine = await call("GET", "/v1/me/sessions");
  session = mine.items.find((item) => item.status === "active") || mine.items[0] || null;
  if (session && session.status !== "active" && session.status !== "completed") session = null;
  render();
}

$("start").addEventListener("click", guarded(start));
$("next").addEventListener("click", guarded(() =>
  progress({ currentStepIndex: 1, inputs: { name: $("name-input").value } })));
$("make-portrait").addEventListener("click", guarded(() =>
  progress({
    currentStepIndex: 2,
    outputs: {
      portrait: { mediaAssetId: `portrait-${session.id}`, url: `${location.origin}/dashboard/favicon.svg` },
    },
  })));
$("finish").addEventListener("click", guarded(async () => {
  session = await call("POST", `${sessionsPath()}/${encodeURIComponent(session.id)}/complete`);
  render();
}));
$("share").addEventListener("click", guarded(share));
$("again").addEventListener("click", guarded(start));
$("erase").addEventListener("click", guarded(erase));
guarded(main)();
