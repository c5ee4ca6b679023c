// Join links of the project: create one (optionally for one event, with a cap and an expiry),
// see its URL and QR code (SVG on the page, PNG to download) and how many guests joined, and
// revoke it. Owners and editors manage links; a viewer is told so.

import { ApiError } from "./api.js";
import { h, replaceChildren, show } from "./dom.js";

const $ = (id) => document.getElementById(id);

async function request(token, method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "NETWORK", "The server cannot be reached.");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || `HTTP_${response.status}`,
      error.message || `The server answered ${response.status}.`, error.details || {});
  }
  return data;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "never";
}

export class JoinLinksView {
  constructor({ names, onRefused }) {
    this.token = null;
    this.names = names;
    this.onRefused = onRefused;
    this.projectId = null;
    $("link-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
  }

  path(suffix = "") {
    return `/v1/projects/${encodeURIComponent(this.projectId)}/links${suffix}`;
  }

  failed(error) {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") return this.onRefused();
    let message = error.message;
    if (error instanceof ApiError && error.code === "PERMISSION_DENIED") {
      message = "Only owners and editors of the project manage its join links.";
    }
    show($("links-error"), true, message);
    return undefined;
  }

  /** Show the links of ``projectId`` (and offer its events in the form). */
  async load(projectId, events) {
    this.projectId = projectId;
    replaceChildren($("link-event"), h("option", { value: "" }, "Any event"),
      events.map((event) => h("option", { value: event.id }, event.name)));
    try {
      const links = await request(this.token, "GET", this.path());
      if (projectId !== this.projectId) return;
      show($("links-error"), false);
      this.render(links.items);
    } catch (error) {
      this.render([]);
      this.failed(error);
    }
  }

  async create() {
    const body = {};
    const form = $("link-form");
    if (form.eventId.value) body.eventId = form.eventId.value;
    if (form.label.value.trim()) body.label = form.label.value.trim();
    if (form.maxGuests.value) body.maxGuests = Number(form.maxGuests.value);
    if (form.expiresHours.value) body.expiresInSeconds = Math.round(Number(form.expiresHours.value) * 3600);
    $("link-create").disabled = true;
    try {
      await request(this.token, "POST", this.path(), body);
      form.reset();
      await this.load(this.projectId, [...this.names.events()]);
    } catch (error) {
      this.failed(error);
    } finally {
      $("link-create").disabled = false;
    }
  }

  async revoke(link) {
    try {
      await request(this.token, "POST", this.path(`/${encodeURIComponent(link.id)}/revoke`));
      await this.load(this.projectId, [...this.names.events()]);
    } catch (error) {
      this.failed(error);
    }
  }

  render(links) {
    show($("links-empty"), links.length === 0);
    replaceChildren($("links-list"), [...links].reverse().map((link) => this.card(link)));
  }

  card(link) {
    const isRevoked = Boolean(link.revokedAt);
    const cap = link.maxGuests === null ? "" : ` of ${link.maxGuests}`;
    return h("li", { className: "link-card", dataset: { id: link.id, state: isRevoked ? "revoked" : "open" } },
      h("img", { className: "qr", src: link.qrSvgUrl, alt: `QR code of ${link.url}`, width: 180, height: 180 }),
      h("div", { className: "link-facts" },
        h("h3", {}, link.label || "Join link"),
        h("p", {}, h("a", { className: "link-url", href: link.url, rel: "noopener" }, link.url)),
        h("p", { className: "joined" }, `${link.joinedCount}${cap} joined`),
        h("p", {}, `Event: ${link.eventId ? this.names.event(link.eventId) : "any"}`
          + ` · expires: ${when(link.expiresAt)}`),
        h("p", { className: "link-actions" },
          h("a", { className: "button secondary", href: link.qrPngUrl, download: "join-link.png" },
            "Download PNG"),
          isRevoked
            ? h("span", { className: "badge" }, `Revoked ${when(link.revokedAt)}`)
            : h("button", { type: "button", className: "secondary revoke",
              onclick: () => this.revoke(link) }, "Revoke"))));
  }
}
