// The live table of sessions: rows keyed by session id, updated in place (a row keeps its
// elements, so keyboard focus stays where it was while the data under it changes).

import { h, replaceChildren, safeMediaUrl, shortId, shortInputs, since } from "./dom.js";
import { mediaPreview } from "./media.js";

const MAX_THUMBNAILS = 3;

export class SessionTable {
  constructor(body, { names, onOpen }) {
    this.body = body;
    this.names = names; // { event(id), experience(id) } -> a display name
    this.onOpen = onOpen;
    this.rows = new Map(); // id -> { row, session }
    body.addEventListener("keydown", (event) => this.onKeydown(event));
  }

  get size() {
    return this.rows.size;
  }

  has(id) {
    return this.rows.has(id);
  }

  ids() {
    return [...this.body.children].map((row) => row.dataset.id);
  }

  /** Show exactly ``sessions``, in order, reusing the rows that are already there. */
  replace(sessions) {
    const keep = new Set(sessions.map((session) => session.id));
    for (const [id, entry] of this.rows) {
      if (!keep.has(id)) {
        entry.row.remove();
        this.rows.delete(id);
      }
    }
    const ordered = sessions.map((session) => {
      const entry = this.rows.get(session.id);
      if (entry && entry.session.version > session.version) return entry.row;
      return this.put(session, { highlight: false });
    });
    this.body.replaceChildren(...ordered);
  }

  /** Add or update one session's row; a new row goes first. The row, or null if stale. */
  put(session, { highlight = true } = {}) {
    let entry = this.rows.get(session.id);
    if (entry && entry.session.version >= session.version) return entry.row;
    if (!entry) {
      entry = { row: this.createRow(session), session };
      this.rows.set(session.id, entry);
      this.body.prepend(entry.row);
    }
    entry.session = session;
    this.fill(entry.row, session);
    if (highlight) {
      entry.row.classList.remove("changed");
      void entry.row.offsetWidth; // restart the animation
      entry.row.classList.add("changed");
    }
    return entry.row;
  }

  remove(id) {
    const entry = this.rows.get(id);
    if (!entry) return;
    entry.row.remove();
    this.rows.delete(id);
  }

  session(id) {
    const entry = this.rows.get(id);
    return entry ? entry.session : null;
  }

  createRow(session) {
    const open = h("button", { type: "button", className: "row-open" });
    open.addEventListener("click", (event) => {
      event.stopPropagation();
      this.onOpen(session.id);
    });
    const cells = ["id", "status", "experience", "event", "step", "mode", "age", "updated",
      "inputs", "outputs"].map((name) => h("td", { className: `cell-${name}` }));
    cells[0].append(open);
    const row = h("tr", { dataset: { id: session.id } }, cells);
    row.addEventListener("click", () => this.onOpen(session.id));
    return row;
  }

  fill(row, session) {
    const cell = (name) => row.querySelector(`.cell-${name}`);
    const open = row.querySelector(".row-open");
    open.textContent = shortId(session.id);
    open.setAttribute("aria-label", `Open session ${session.id}`);
    row.dataset.status = session.status;
    row.dataset.step = String(session.currentStepIndex);
    row.dataset.version = String(session.version);
    row.dataset.mode = session.mode;
    replaceChildren(cell("status"), h("span", { className: `badge status-${session.status}` },
      session.status));
    cell("experience").textContent = this.names.experience(session.experienceId);
    cell("event").textContent = this.names.event(session.eventId);
    cell("step").textContent = String(session.currentStepIndex);
    replaceChildren(cell("mode"), h("span", { className: `mode mode-${session.mode}` },
      session.mode));
    const inputs = cell("inputs");
    inputs.textContent = shortInputs(session.inputs);
    inputs.title = JSON.stringify(session.inputs, null, 1);
    replaceChildren(cell("outputs"), thumbnails(session.outputs));
    this.tickRow(row, session, Date.now());
  }

  /** Refresh the "age" and "updated" columns (called every second). */
  tick(now = Date.now()) {
    for (const { row, session } of this.rows.values()) this.tickRow(row, session, now);
  }

  tickRow(row, session, now) {
    const age = row.querySelector(".cell-age");
    const updated = row.querySelector(".cell-updated");
    age.textContent = since(session.createdAt, now);
    age.title = new Date(session.createdAt).toLocaleString();
    updated.textContent = since(session.updatedAt, now);
    updated.title = new Date(session.updatedAt).toLocaleString();
  }

  /** Names changed (the catalog was reloaded): rewrite the name cells. */
  renameAll() {
    for (const { row, session } of this.rows.values()) {
      row.querySelector(".cell-experience").textContent =
        this.names.experience(session.experienceId);
      row.querySelector(".cell-event").textContent = this.names.event(session.eventId);
    }
  }

  /** Up and down arrows move between the rows' buttons. */
  onKeydown(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const current = event.target.closest("tr");
    if (!current || !event.target.classList.contains("row-open")) return;
    const next = event.key === "ArrowDown" ? current.nextElementSibling
      : current.previousElementSibling;
    if (next) {
      event.preventDefault();
      next.querySelector(".row-open").focus();
    }
  }
}

/** Up to a few output thumbnails (or labels, for media that are not images), each a link to
 * the full media; then "+N". */
export function thumbnails(outputs, limit = MAX_THUMBNAILS) {
  const entries = Object.entries(outputs || {});
  const items = [];
  for (const [name, media] of entries.slice(0, limit)) {
    const url = safeMediaUrl(media && media.url);
    if (!url) {
      items.push(h("span", { className: "no-thumb", title: name }, name));
      continue;
    }
    items.push(mediaPreview(name, url, {
      size: 40, className: "thumb", onclick: (event) => event.stopPropagation(),
    }));
  }
  if (entries.length > limit) items.push(h("span", { className: "more" }, `+${entries.length - limit}`));
  return items;
}
