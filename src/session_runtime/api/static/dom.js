// Building the page from data. Every value is written with textContent or setAttribute, never
// parsed as HTML: a session's inputs are whatever a guest typed.

/** An element with attributes and children (strings become text nodes). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace every child of ``element``. */
export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** Show or hide an element, and set its text when given. */
export function show(element, visible, text) {
  if (text !== undefined) element.textContent = text;
  element.hidden = !visible;
}

/** "12 s", "4 min", "3 h", "2 d": how long ago ``iso`` was, at ``now`` (milliseconds). */
export function since(iso, now) {
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}

/** A duration in seconds, for people: "48 s", "3 min 20 s", "1 h 05 min". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60);
  if (minutes < 60) return `${minutes} min ${String(whole % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** A local, readable timestamp. */
export function moment(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function flatten(value, prefix, pairs) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      flatten(inner, prefix ? `${prefix}.${key}` : key, pairs);
    }
  } else {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    pairs.push(`${prefix}: ${text}`);
  }
}

/** The inputs in one short line: "profile.name: Ada · mood: happy", cut at ``limit``. */
export function shortInputs(inputs, limit = 60) {
  const pairs = [];
  flatten(inputs || {}, "", pairs);
  const line = pairs.join(" · ");
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line;
}

/** ``url`` when it is an absolute http(s) URL, else null: nothing else becomes an image. */
export function safeMediaUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** A session id, short enough for a table cell. */
export function shortId(id) {
  return id.length > 10 ? `${id.slice(0, 8)}…` : id;
}
