// The funnel of each experience, from GET /v1/projects/{p}/stats: how many sessions reached
// each step, how they ended, and the median time to complete. Plain HTML bars whose widths are
// set through the CSSOM (the Content-Security-Policy allows no inline style attributes).

import { duration, h, replaceChildren } from "./dom.js";

const OUTCOMES = ["completed", "abandoned", "error", "active"];

function percent(part, whole) {
  return whole > 0 ? Math.round((part / whole) * 100) : 0;
}

function bar(className, share) {
  const fill = h("span", { className: `bar-fill ${className}` });
  fill.style.width = `${Math.max(0, Math.min(100, share))}%`;
  return h("span", { className: "bar", "aria-hidden": "true" }, fill);
}

function stepRows(steps, total) {
  return steps.map((step) => h("li", {
    className: "step",
    dataset: { step: String(step.stepIndex), reached: String(step.reached) },
  },
  h("span", { className: "step-label" }, `Step ${step.stepIndex}`),
  bar("reached", percent(step.reached, total)),
  h("span", { className: "step-value" },
    h("strong", {}, String(step.reached)), ` · ${percent(step.reached, total)}%`)));
}

function outcomeBar(counts) {
  const stacked = h("div", { className: "outcomes-bar", "aria-hidden": "true" });
  for (const outcome of OUTCOMES) {
    if (!counts[outcome]) continue;
    const part = h("span", { className: `segment status-${outcome}` });
    part.style.width = `${percent(counts[outcome], counts.total)}%`;
    stacked.append(part);
  }
  return stacked;
}

function outcomeList(counts) {
  return h("dl", { className: "outcomes" }, OUTCOMES.map((outcome) => h("div", {
    className: "outcome", dataset: { count: outcome, value: String(counts[outcome]) },
  },
  h("dt", {}, h("span", { className: `swatch status-${outcome}`, "aria-hidden": "true" }),
    outcome),
  h("dd", {}, `${counts[outcome]} (${percent(counts[outcome], counts.total)}%)`))));
}

/** One card per experience of ``stats``; ``name`` maps an experience id to its name. */
export function renderFunnels(container, stats, name) {
  if (!stats.experiences.length) {
    replaceChildren(container, h("p", { className: "empty" }, "No sessions count for these filters yet."));
    return;
  }
  replaceChildren(container, stats.experiences.map((experience) => {
    const counts = experience.counts;
    return h("article", {
      className: "funnel", dataset: { experienceId: experience.experienceId },
      "aria-label": `Funnel of ${name(experience.experienceId)}`,
    },
    h("header", { className: "funnel-head" },
      h("h3", {}, name(experience.experienceId)),
      h("p", { className: "funnel-figures" },
        h("span", { dataset: { count: "total", value: String(counts.total) } },
          h("strong", {}, String(counts.total)), counts.total === 1 ? " session" : " sessions"),
        h("span", { className: "median" }, "median to complete ",
          h("strong", {}, duration(experience.medianCompletionSeconds))))),
    h("h4", { className: "visually-hidden" }, "Reached each step"),
    h("ol", { className: "steps" }, stepRows(experience.steps, counts.total)),
    h("h4", { className: "visually-hidden" }, "How the sessions ended"),
    outcomeBar(counts),
    outcomeList(counts));
  }));
}

/** A one-line summary of ``stats.totals``. */
export function funnelSummary(stats) {
  const t = stats.totals;
  const noun = t.total === 1 ? "session" : "sessions";
  return `${t.total} ${stats.mode} ${noun}: ${t.completed} completed, ${t.abandoned} abandoned, `
    + `${t.error} errored, ${t.active} active.`
    + (stats.mode === "guest" ? " Preview sessions are not counted." : "");
}
