// Output media in the page: an image where the URL holds one, else a label that says what the
// media is (a video, a sound, a file); always a link to the URL. A browser shows a broken-image
// icon for an image that fails to load: such an image is replaced by the file label, and its
// URL is remembered, so the next redraw of the row shows the label at once.

import { h } from "./dom.js";

const VIDEO = new Set(["mp4", "m4v", "mov", "webm", "ogv", "mkv", "avi", "mpeg", "mpg", "3gp"]);
const AUDIO = new Set(["mp3", "m4a", "aac", "wav", "oga", "ogg", "flac", "opus"]);
const IMAGE = new Set(["jpg", "jpeg", "png", "gif", "webp", "avif", "svg", "bmp", "ico",
  "apng", "jfif", "heic", "heif"]);
const LABELS = {
  video: { icon: "▶", text: "video" },
  audio: { icon: "♪", text: "audio" },
  file: { icon: "▤", text: "file" },
};
const failedImages = new Set();

/** "image", "video", "audio" or "file": what ``url`` names, by its extension. A URL with no
 * extension (a media service's id) may well be an image: it is tried as one. */
export function mediaKind(url) {
  const name = new URL(url).pathname.split("/").pop();
  const dot = name.lastIndexOf(".");
  if (dot < 0) return failedImages.has(url) ? "file" : "image";
  const extension = name.slice(dot + 1).toLowerCase();
  if (VIDEO.has(extension)) return "video";
  if (AUDIO.has(extension)) return "audio";
  if (IMAGE.has(extension) && !failedImages.has(url)) return "image";
  return "file";
}

/** A link to the output ``url`` named ``name``: its image, or a label of its kind.
 * ``size`` is the side of the square it fills, in pixels; ``className`` the link's class. */
export function mediaPreview(name, url, { size, className, onclick }) {
  const kind = mediaKind(url);
  if (kind !== "image") return fallback(name, url, kind, { size, className, onclick });
  const image = h("img", { src: url, alt: name, width: size, height: size, loading: "lazy",
    referrerpolicy: "no-referrer" });
  const link = h("a", { className, href: url, target: "_blank", rel: "noopener noreferrer",
    title: name, onclick }, image);
  image.addEventListener("error", () => {
    failedImages.add(url);
    link.replaceWith(fallback(name, url, "file", { size, className, onclick }));
  }, { once: true });
  return link;
}

function fallback(name, url, kind, { size, className, onclick }) {
  const label = LABELS[kind];
  return h("a", {
    className: `${className} media-fallback`, href: url, target: "_blank",
    rel: "noopener noreferrer", title: `${name} (${label.text})`, onclick,
    "aria-label": `${name}: ${label.text}, opens in a new tab`,
    dataset: { kind, size: String(size) },
  },
  h("span", { className: "media-icon", "aria-hidden": "true" }, label.icon),
  h("span", { className: "media-label" }, label.text));
}
