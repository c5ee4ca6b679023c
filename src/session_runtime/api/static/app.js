// The dashboard: sign in with a pasted token, pick a project, watch its sessions live and the
// funnel of each experience. The token lives in sessionStorage (this tab only) and travels in
// an Authorization header or the WebSocket's first message, never in a URL.

import { Api, ApiError } from "./api.js";
import { DetailView } from "./detail.js";
import { h, replaceChildren, show } from "./dom.js";
import { funnelSummary, renderFunnels } from "./funnel.js";
import { LiveConnection } from "./live.js";
import { SessionTable } from "./table.js";

const TOKEN_KEY = "session-runtime.token";
const PROJECT_KEY = "session-runtime.project";
const PAGE_SIZE = 25;
const STATS_DEBOUNCE_MS = 700;
const STATS_MAX_WAIT_MS = 3000;
const FILTERS = ["eventId", "experienceId", "status", "mode"];

const $ = (id) => document.getElementById(id);

const state = {
  api: null,
  live: null,
  projectId: null,
  events: new Map(),
  experiences: new Map(),
  cursors: [null], // the cursor that loads each page; page 1 has none
  page: 0,
  nextCursor: null,
  // Live sessions pushed rows of this page on to the next: there is an older page, and the
  // cursor to it (if any) must be asked for again.
  hasOverflowed: false,
  loadGeneration: 0,
  isLoading: false,
  pending: [],
  newerCount: 0,
  view: "sessions",
  statsTimer: null,
  statsFirstDue: 0,
  isStatsStale: true,
  catalogTimer: null,
};

const names = {
  event: (id) => (state.events.get(id) || {}).name || id,
  experience: (id) => (state.experiences.get(id) || {}).name || id,
};

function noteUnknownNames(session) {
  if (state.events.has(session.eventId) && state.experiences.has(session.experienceId)) return;
  clearTimeout(state.catalogTimer);
  state.catalogTimer = setTimeout(() => loadCatalog().then(() => table.renameAll()), 300);
}

const table = new SessionTable($("sessions-body"), {
  names,
  onOpen: (id) => openDetail(id),
});
const detail = new DetailView($("detail"), { names, live: () => state.live });

// -- signing in -------------------------------------------------------------------------

function signInMessage(error) {
  if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
    return "That token was not accepted: it is unknown or has been revoked. "
      + "Paste the whole token (it starts with srt_).";
  }
  if (error instanceof ApiError && error.code === "NETWORK") {
    return "The server cannot be reached. Check that it is running and try again.";
  }
  return `Signing in failed: ${error.message}`;
}

async function signIn(token) {
  show($("sign-in-error"), false);
  $("sign-in-button").disabled = true;
  try {
    const api = new Api(token);
    const me = await api.me();
    if (me.kind === "guest") {
      throw new Error("this is a guest token (a kiosk's or a join link's). The dashboard "
        + "needs a member token: owner, editor or viewer.");
    }
    const projects = (await api.projects()).items;
    if (!projects.length) throw new Error("this token sees no project.");
    sessionStorage.setItem(TOKEN_KEY, token);
    state.api = api;
    $("who").textContent = me.user ? `${me.user} (${me.role})` : me.kind;
    startLive(token);
    showDashboard(projects);
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    show($("sign-in-error"), true, signInMessage(error));
    $("token-input").focus();
  } finally {
    $("sign-in-button").disabled = false;
  }
}

function signOut(message) {
  if (state.live) state.live.close();
  state.live = null;
  state.api = null;
  state.projectId = null;
  detail.close();
  sessionStorage.removeItem(TOKEN_KEY);
  table.replace([]);
  show($("dashboard-view"), false);
  show($("topbar-tools"), false);
  show($("sign-in-view"), true);
  $("token-input").value = "";
  show($("sign-in-error"), Boolean(message), message || "");
  $("token-input").focus();
}

function refused() {
  signOut("The server no longer accepts this token (it may have been revoked). Sign in again.");
}

function startLive(token) {
  state.live = new LiveConnection(token, {
    onMessage,
    onState: (connection) => {
      const label = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…",
        refused: "Signed out" }[connection];
      const element = $("connection");
      element.dataset.state = connection;
      element.textContent = label;
    },
    onOpen: () => {},
    onRefused: refused,
  });
  state.live.start();
}

function showDashboard(projects) {
  const picker = $("project-picker");
  replaceChildren(picker, projects.map((project) =>
    h("option", { value: project.id }, project.name)));
  const remembered = sessionStorage.getItem(PROJECT_KEY);
  const chosen = projects.some((project) => project.id === remembered) ? remembered : projects[0].id;
  picker.value = chosen;
  show($("sign-in-view"), false);
  show($("topbar-tools"), true);
  show($("dashboard-view"), true);
  selectProject(chosen);
}

// -- one project ------------------------------------------------------------------------

async function loadCatalog() {
  const projectId = state.projectId;
  const [events, experiences] = await Promise.all([
    state.api.events(projectId), state.api.experiences(projectId)]);
  if (projectId !== state.projectId) return;
  state.events = new Map(events.items.map((item) => [item.id, item]));
  state.experiences = new Map(experiences.items.map((item) => [item.id, item]));
  fillFilter($("filter-event"), "All events", events.items);
  fillFilter($("filter-experience"), "All experiences", experiences.items);
}

function fillFilter(select, allLabel, items) {
  const current = select.value;
  replaceChildren(select, h("option", { value: "" }, allLabel),
    items.map((item) => h("option", { value: item.id }, item.name)));
  select.value = items.some((item) => item.id === current) ? current : "";
}

async function selectProject(projectId) {
  detail.close();
  if (state.projectId) state.live.unsubscribe("all");
  state.projectId = projectId;
  sessionStorage.setItem(PROJECT_KEY, projectId);
  state.events = new Map();
  state.experiences = new Map();
  table.replace([]);
  resetPaging();
  try {
    await loadCatalog();
  } catch (error) {
    return failed(error, $("sessions-error"));
  }
  // Subscribe first, then read the page: a change made in between is not missed (the
  // "subscribed" answer reloads the page, and versions keep the newest copy of each row).
  state.live.subscribe("all", projectId);
  loadPage();
  state.isStatsStale = true;
  if (state.view === "funnel") loadStats();
}

function failed(error, element) {
  if (error instanceof ApiError && error.code === "UNAUTHENTICATED") return refused();
  show(element, true, error.message);
  return undefined;
}

function filterValues() {
  const values = {};
  for (const name of FILTERS) values[name] = $(`filter-${name === "eventId" ? "event"
    : name === "experienceId" ? "experience" : name}`).value;
  return values;
}

function matchesFilters(session) {
  const filters = filterValues();
  return FILTERS.every((name) => !filters[name] || session[name] === filters[name]);
}

function resetPaging() {
  state.cursors = [null];
  state.page = 0;
  state.nextCursor = null;
  state.hasOverflowed = false;
  state.newerCount = 0;
  show($("new-sessions"), false);
}

async function loadPage() {
  const generation = ++state.loadGeneration;
  const projectId = state.projectId;
  state.isLoading = true;
  try {
    const page = await state.api.sessions(projectId, {
      ...filterValues(), limit: PAGE_SIZE, cursor: state.cursors[state.page],
    });
    if (generation !== state.loadGeneration) return;
    show($("sessions-error"), false);
    table.replace(page.items);
    page.items.forEach(noteUnknownNames);
    state.nextCursor = page.nextCursor;
    state.hasOverflowed = false;
    const pending = state.pending;
    state.pending = [];
    state.isLoading = false;
    pending.forEach(applyChange);
  } catch (error) {
    if (generation === state.loadGeneration) failed(error, $("sessions-error"));
  } finally {
    if (generation === state.loadGeneration) {
      state.isLoading = false;
      renderPager();
    }
  }
}

function renderPager() {
  $("page-newer").disabled = state.page === 0;
  $("page-older").disabled = !state.nextCursor && !state.hasOverflowed;
  $("page-label").textContent = `Page ${state.page + 1}`;
  show($("sessions-empty"), table.size === 0);
  $("sessions-summary").textContent = `${table.size} session${table.size === 1 ? "" : "s"} `
    + `on this page${state.page === 0 ? ", newest first" : ""}.`;
}

function isOlderThan(a, b) {
  return a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.id < b.id);
}

/** A change from the WebSocket: update its row, place a new one, or note it elsewhere. */
function applyChange(session) {
  noteUnknownNames(session);
  if (table.has(session.id)) {
    if (matchesFilters(session)) table.put(session);
    else table.remove(session.id);
  } else if (matchesFilters(session)) {
    const ids = table.ids();
    const last = ids.length ? table.session(ids[ids.length - 1]) : null;
    const first = ids.length ? table.session(ids[0]) : null;
    const belongsHere = !last || !state.nextCursor || !isOlderThan(session, last);
    if (state.page > 0 && first && !isOlderThan(session, first)) {
      state.newerCount += 1;
      $("show-newest").textContent = `${state.newerCount} newer session`
        + `${state.newerCount === 1 ? "" : "s"}: show the newest`;
      show($("new-sessions"), true);
    } else if (belongsHere) {
      const row = table.put(session);
      placeRow(row, session);
      keepPageSize();
    }
  }
  renderPager();
}

/** A page shows at most PAGE_SIZE rows: the oldest move on to the next page. */
function keepPageSize() {
  const ids = table.ids();
  for (const id of ids.slice(PAGE_SIZE)) table.remove(id);
  if (ids.length > PAGE_SIZE) state.hasOverflowed = true;
}

/** The cursor of the page after this one, as the server sees the pages now. */
async function nextPageCursor() {
  if (!state.hasOverflowed) return state.nextCursor;
  const page = await state.api.sessions(state.projectId, {
    ...filterValues(), limit: PAGE_SIZE, cursor: state.cursors[state.page],
  });
  return page.nextCursor;
}

function placeRow(row, session) {
  for (const other of table.body.children) {
    if (other === row) continue;
    if (isOlderThan(table.session(other.dataset.id), session)) {
      table.body.insertBefore(row, other);
      return;
    }
  }
  table.body.append(row);
}

function onMessage(message) {
  if (detail.handle(message)) return;
  if (message.id !== "all") return;
  if (message.type === "subscribed") {
    loadPage();
    scheduleStats();
  } else if (message.type === "change") {
    if (message.session.projectId !== state.projectId) return;
    if (state.isLoading) state.pending.push(message.session);
    else applyChange(message.session);
    scheduleStats();
  } else if (message.type === "error") {
    show($("sessions-error"), true, `Live updates are off: ${message.error.message}`);
  }
}

function openDetail(id) {
  const session = table.session(id);
  if (session) detail.open(state.projectId, session);
}

// -- the funnel -------------------------------------------------------------------------

function statsParams() {
  const filters = filterValues();
  const iso = (value) => (value ? new Date(value).toISOString() : "");
  return {
    eventId: filters.eventId,
    experienceId: filters.experienceId,
    mode: filters.mode || "guest",
    from: iso($("filter-from").value),
    to: iso($("filter-to").value),
  };
}

async function loadStats() {
  clearTimeout(state.statsTimer);
  state.statsTimer = null;
  state.statsFirstDue = 0;
  state.isStatsStale = false;
  const projectId = state.projectId;
  try {
    const stats = await state.api.stats(projectId, statsParams());
    if (projectId !== state.projectId) return;
    show($("funnel-error"), false);
    $("funnel-summary").textContent = funnelSummary(stats);
    renderFunnels($("funnels"), stats, names.experience);
  } catch (error) {
    let message = error.message;
    if (error instanceof ApiError && error.status === 404 && error.details.resource !== "project") {
      message = "This server does not offer funnel figures (GET /v1/projects/{p}/stats).";
    } else if (error instanceof ApiError && error.code === "PERMISSION_DENIED") {
      message = "Only members of the project see its funnel.";
    }
    failed(new ApiError(error.status, error.code, message), $("funnel-error"));
  }
}

/** Refresh the funnel a little after changes stop arriving (and at least every few seconds
 * while they keep arriving); only while it is shown, else on showing it. */
function scheduleStats() {
  state.isStatsStale = true;
  if (state.view !== "funnel") return;
  const now = Date.now();
  if (!state.statsFirstDue) state.statsFirstDue = now + STATS_MAX_WAIT_MS;
  const wait = Math.max(0, Math.min(STATS_DEBOUNCE_MS, state.statsFirstDue - now));
  clearTimeout(state.statsTimer);
  state.statsTimer = setTimeout(loadStats, wait);
}

// -- views and controls -----------------------------------------------------------------

function showView(view) {
  state.view = view;
  document.body.dataset.view = view;
  $("tab-sessions").setAttribute("aria-pressed", String(view === "sessions"));
  $("tab-funnel").setAttribute("aria-pressed", String(view === "funnel"));
  show($("sessions-view"), view === "sessions");
  show($("funnel-view"), view === "funnel");
  // The funnel counts one mode only: with no mode chosen, guest sessions.
  $("filter-mode").options[0].textContent = view === "funnel" ? "Guest (default)" : "Any mode";
  if (view === "funnel" && state.isStatsStale && state.projectId) loadStats();
}

$("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) {
    show($("sign-in-error"), true, "Paste a token first.");
    return;
  }
  signIn(token);
});
$("sign-out").addEventListener("click", () => signOut());
$("project-picker").addEventListener("change", (event) => selectProject(event.target.value));
$("tab-sessions").addEventListener("click", () => showView("sessions"));
$("tab-funnel").addEventListener("click", () => showView("funnel"));
$("filters").addEventListener("submit", (event) => event.preventDefault());
$("filters").addEventListener("change", (event) => {
  if (!event.target.classList.contains("funnel-input")) {
    resetPaging();
    loadPage();
  }
  state.isStatsStale = true;
  if (state.view === "funnel") loadStats();
});
$("page-older").addEventListener("click", async () => {
  const projectId = state.projectId;
  const button = $("page-older");
  button.disabled = true; // one turn of the page at a time
  let cursor;
  try {
    cursor = await nextPageCursor();
  } catch (error) {
    failed(error, $("sessions-error"));
    return;
  } finally {
    renderPager();
  }
  if (!cursor || projectId !== state.projectId) return;
  state.cursors[state.page + 1] = cursor;
  state.page += 1;
  loadPage();
});
$("page-newer").addEventListener("click", () => {
  if (state.page === 0) return;
  state.page -= 1;
  if (state.page === 0) resetPaging();
  loadPage();
});
$("show-newest").addEventListener("click", () => {
  resetPaging();
  loadPage();
});

setInterval(() => table.tick(), 1000);
showView("sessions");

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
else $("token-input").focus();
