// A session's detail, in a dialog, following the session live: its own WebSocket
// subscription ({"type": "subscribe", "sessionId": ...}) sends a snapshot now and on every
// change, and "end" once the session is final.

import { h, moment, replaceChildren, safeMediaUrl } from "./dom.js";
import { mediaPreview } from "./media.js";

export class DetailView {
  constructor(dialog, { names, live }) {
    this.dialog = dialog;
    this.names = names;
    this.live = live;
    this.subscriptionId = null;
    this.sessionId = null;
    this.version = 0;
    this.opened = 0;
    this.returnFocus = null;
    dialog.querySelector("#detail-close").addEventListener("click", () => this.close());
    dialog.addEventListener("close", () => this.release());
  }

  get isOpen() {
    return this.dialog.open;
  }

  open(projectId, session) {
    this.release();
    this.opened += 1;
    this.sessionId = session.id;
    this.version = 0;
    this.subscriptionId = `detail-${this.opened}`;
    this.returnFocus = document.activeElement;
    this.render(session);
    this.note("Following live…");
    if (!this.dialog.open) this.dialog.showModal();
    this.live().subscribe(this.subscriptionId, projectId, session.id);
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** Stop following (the dialog closed, or another session was opened). */
  release() {
    if (this.subscriptionId) this.live().unsubscribe(this.subscriptionId);
    this.subscriptionId = null;
    if (!this.dialog.open && this.returnFocus && this.returnFocus.isConnected) {
      this.returnFocus.focus();
      this.returnFocus = null;
    }
  }

  /** A WebSocket message; true when it was this view's. */
  handle(message) {
    if (!this.subscriptionId || message.id !== this.subscriptionId) return false;
    if (message.type === "snapshot") {
      this.render(message.session);
      this.note(`Live · version ${message.session.version}`);
    } else if (message.type === "end") {
      this.note(`The session is ${message.status}: it will not change any more.`);
    } else if (message.type === "error") {
      this.note(`Not following: ${message.error.message}`);
    }
    return true;
  }

  note(text) {
    this.dialog.querySelector("#detail-live").textContent = text;
  }

  render(session) {
    if (session.id !== this.sessionId || session.version < this.version) return;
    this.version = session.version;
    this.dialog.dataset.version = String(session.version);
    this.dialog.dataset.step = String(session.currentStepIndex);
    this.dialog.dataset.status = session.status;
    this.dialog.querySelector("#detail-title").textContent = `Session ${session.id}`;
    const facts = [
      ["Status", h("span", { className: `badge status-${session.status}` }, session.status)],
      ["Current step", String(session.currentStepIndex)],
      ["Experience", this.names.experience(session.experienceId)],
      ["Event", this.names.event(session.eventId)],
      ["Mode", session.mode],
      ["Config", session.configSource],
      ["Created", moment(session.createdAt)],
      ["Updated", moment(session.updatedAt)],
      ["Completed", moment(session.completedAt)],
      ["End reason", session.endReason || "—"],
      ["Created by", session.createdBy],
      ["Version", String(session.version)],
    ];
    replaceChildren(this.dialog.querySelector("#detail-facts"), facts.map(([term, value]) =>
      h("div", { className: "fact", dataset: { fact: term } }, h("dt", {}, term), h("dd", {}, value))));
    const outputs = Object.entries(session.outputs || {}).map(([name, media]) => {
      const url = safeMediaUrl(media && media.url);
      const caption = h("figcaption", {}, name);
      if (!url) return h("figure", {}, caption);
      return h("figure", {}, mediaPreview(name, url, { size: 160, className: "large" }), caption);
    });
    replaceChildren(this.dialog.querySelector("#detail-outputs"),
      outputs.length ? outputs : h("p", { className: "empty" }, "No outputs yet."));
    this.dialog.querySelector("#detail-inputs").textContent =
      JSON.stringify(session.inputs, null, 2);
  }
}
