// The Consumers dashboard: plain JavaScript, no build step, no network beyond this server's /api.
// The key lives in sessionStorage (this tab only) and goes in the X-Api-Key header of every call.
"use strict";

const KEY = "consumers.admin.key";
const TERMINAL = ["succeeded", "failed", "cancelled"];
const STATUSES = ["queued", "processing", "succeeded", "failed", "cancelled"];
let me = null;
let timer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function table(headers, rows, attrs) {
  return el("table", attrs || {},
    el("thead", {}, el("tr", {}, headers.map(h => el("th", { class: /^#|count|running|slots|ready|messages|seq|attempt/i.test(h) ? "num" : null }, h)))),
    el("tbody", {}, rows));
}

function statusBadge(status) { return el("span", { class: "status " + status, "data-status": status }, status); }
function time(value) { return value ? new Date(value).toLocaleString() : ""; }
function ago(value) {
  if (!value) return "";
  const s = Math.max(0, (Date.now() - new Date(value).getTime()) / 1000);
  return s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}
function shortId(id) { return id.slice(-8); }
function jobLink(id) { return el("a", { href: "#/job/" + id, class: "mono", title: id }, shortId(id)); }
function progress(percent) { return el("div", { class: "bar", title: (percent ?? 0) + "%" }, el("span", { style: `width:${percent ?? 0}%` })); }
function setStatusLine(text, cls) { const line = document.getElementById("status-line"); line.textContent = text; line.className = cls || "muted"; }

class ApiError extends Error {
  constructor(status, problem) {
    const fields = problem && problem.errors ? Object.entries(problem.errors).map(([f, m]) => `${f}: ${m.join(", ")}`).join("; ") : "";
    super(fields || (problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, options) {
  const response = await fetch("/api" + path, {
    method: (options && options.method) || "GET",
    headers: { "X-Api-Key": sessionStorage.getItem(KEY) || "", "Content-Type": "application/json" },
    body: options && options.body ? JSON.stringify(options.body) : undefined,
  });
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (response.status === 401) { signOut("The key was refused."); throw new ApiError(401, body); }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  me = null;
  showLogin(message || "");
}

function showLogin(message) {
  clearInterval(timer);
  document.getElementById("login").hidden = false;
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("view").replaceChildren();
  document.getElementById("login-error").textContent = message;
  document.getElementById("login-key").value = "";
}

async function signIn(key) {
  sessionStorage.setItem(KEY, key);
  try {
    me = await api("/me");
  } catch (error) {
    if (error.status !== 401) showLogin(error.message);
    return;
  }
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = `${me.name} (${me.role === "Operator" ? "operator" : "read-only"})`;
  route();
}

// Renders a view now and again every `every` ms; a failed refresh keeps the last view and says so.
function live(render, every) {
  clearInterval(timer);
  const view = document.getElementById("view");
  const refresh = async () => {
    try {
      const content = await render();
      if (content) view.replaceChildren(content);
      setStatusLine("updated " + new Date().toLocaleTimeString());
    } catch (error) {
      if (error.status !== 401) setStatusLine("refresh failed: " + error.message, "error");
    }
  };
  refresh();
  if (every) timer = setInterval(refresh, every);
}

function route() {
  if (!me) return;
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.getAttribute("href") === "#" + (path || "/").replace(/^(\/job)\/.*/, "/jobs"));
  if (path.startsWith("/job/")) live(() => jobView(decodeURIComponent(path.slice(5))), 1000);
  else if (path === "/jobs") live(() => jobsView(params), 3000);
  else if (path === "/dead-letters") live(deadLettersView, 10000);
  else if (path === "/audit") live(auditView, 5000);
  else live(overviewView, 3000);
}

// ---------- overview ----------
async function overviewView() {
  const o = await api("/overview");
  const cards = el("div", { class: "cards", id: "status-cards" },
    STATUSES.map(s => el("a", { class: "card", href: "#/jobs?status=" + s, style: "text-decoration:none;color:inherit", "data-status": s },
      el("div", { class: "value" }, o.statuses[s] ?? 0), el("div", { class: "label" }, s))),
    el("div", { class: "card" }, el("div", { class: "value " + (o.stuck ? "error" : "") , id: "stuck-count"}, o.stuck), el("div", { class: "label" }, el("a", { href: "#/jobs?stuck=1" }, "look stuck"))),
    el("div", { class: "card" }, el("div", { class: "value " + (o.outbox.oldestAgeSeconds > 30 ? "error" : "") }, o.outbox.oldestAgeSeconds.toFixed(1) + " s"),
      el("div", { class: "label" }, `outbox age (${o.outbox.backlog} waiting)`)),
    el("div", { class: "card" }, el("div", { class: "value" }, o.deadLetters.reduce((n, q) => n + (q.messages ?? 0), 0)), el("div", { class: "label" }, el("a", { href: "#/dead-letters" }, "dead letters"))));

  const minutes = [];
  for (let i = 14; i >= 0; i--) {
    const m = new Date(Math.floor(Date.now() / 60000) * 60000 - i * 60000);
    const row = o.throughput.find(t => new Date(t.minute).getTime() === m.getTime());
    minutes.push({ m, ok: row ? row.succeeded : 0, bad: row ? row.failed + row.cancelled : 0 });
  }
  const peak = Math.max(1, ...minutes.map(x => x.ok + x.bad));
  const spark = el("div", { class: "spark", id: "throughput", title: "jobs finished per minute, last 15 minutes" },
    minutes.map(x => el("span", { style: `height:${(100 * (x.ok + x.bad)) / peak}%`, class: x.bad > x.ok ? "failed" : null,
      title: `${x.m.toLocaleTimeString()}: ${x.ok} succeeded, ${x.bad} failed or cancelled` })));

  const byStage = {};
  for (const c of o.stages) (byStage[c.stage] ||= {})[c.status] = c.count;
  const stageRows = Object.keys(byStage).sort().map(stage => el("tr", {}, el("td", {}, el("a", { href: "#/jobs?stage=" + encodeURIComponent(stage) }, stage)),
    STATUSES.map(s => el("td", { class: "num" }, byStage[stage][s] ? el("a", { href: `#/jobs?stage=${encodeURIComponent(stage)}&status=${s}` }, byStage[stage][s]) : "·"))));

  return el("div", {},
    el("h1", {}, "Overview"), cards,
    el("h2", {}, "Finished per minute (last 15 minutes)"), spark,
    el("h2", {}, "Jobs per stage (waiting and running now, finished in the last 24 hours)"),
    stageRows.length ? table(["stage", ...STATUSES], stageRows, { id: "stage-table" }) : el("p", { class: "muted" }, "no jobs"),
    lanesSection(o.lanes));
}

function lanesSection(l) {
  const lanes = table(["lane", "queue", "stages", "slots per worker", "running (all workers)", "ready in queue"],
    l.lanes.map(x => el("tr", {}, el("td", {}, x.name), el("td", { class: "mono" }, x.queue), el("td", {}, x.stages.join(", ")),
      el("td", { class: "num" }, x.slotsPerWorker), el("td", { class: "num" }, x.running), el("td", { class: "num" }, x.ready ?? "?"))), { id: "lanes" });
  const workers = l.workers.length
    ? table(["worker", "running jobs"], l.workers.map(w => el("tr", {}, el("td", { class: "mono" }, w.workerId), el("td", { class: "num" }, w.running))))
    : el("p", { class: "muted" }, "no worker is running a job");
  const pauses = el("div", { id: "pauses" }, l.pauses.length
    ? table(["paused stage", "by", "why", "since", "held messages", ""], l.pauses.map(p => el("tr", {},
      el("td", {}, p.stage), el("td", {}, p.pausedBy), el("td", {}, p.reason || ""), el("td", {}, ago(p.pausedAt)), el("td", { class: "num" }, p.parked ?? "?"),
      el("td", {}, operatorButton("Resume", "resume-" + p.stage, () => act(`/stages/${encodeURIComponent(p.stage)}/resume`, null, `${p.stage} resumed`))))))
    : el("p", { class: "muted" }, "no stage is paused"));
  const pauseForm = me.role === "Operator" ? el("form", { class: "filters", id: "pause-form", onsubmit: e => {
      e.preventDefault();
      const stage = e.target.elements.stage.value.trim();
      act(`/stages/${encodeURIComponent(stage)}/pause`, { reason: e.target.elements.reason.value || null }, `${stage} paused`);
    } }, el("input", { name: "stage", placeholder: "stage", required: true, id: "pause-stage" }),
    el("input", { name: "reason", placeholder: "reason", id: "pause-reason" }), el("button", { type: "submit", id: "pause-submit" }, "Pause stage")) : null;
  const bp = l.backpressure;
  const backpressure = el("p", { id: "backpressure" }, bp.enabled
    ? [`Backpressure on: a worker stops taking jobs above ${bp.highWatermark} messages in `,
      bp.watched.map(q => `${q.queue} (${q.messages ?? "?"})`).join(", ") || "no watched queue", `, and resumes below ${bp.lowWatermark}.`,
      bp.watched.some(q => q.messages > bp.highWatermark) ? el("strong", { class: "error" }, " Over the high watermark now.") : ""]
    : "Backpressure is off (Consumers:Flow:Backpressure:Enabled).");
  return el("div", {}, el("h2", {}, `Lanes (${l.concurrentJobsPerWorker} slots per worker)`), lanes,
    el("h2", {}, "Workers"), workers, el("h2", {}, "Pauses"), pauses, pauseForm, el("h2", {}, "Backpressure"), backpressure);
}

// ---------- job list ----------
async function jobsView(params) {
  if (params.get("stuck")) return stuckView();
  const query = new URLSearchParams();
  for (const name of ["status", "stage", "search", "offset"]) if (params.get(name)) query.set(name, params.get(name));
  query.set("limit", "50");
  const page = await api("/jobs?" + query);
  const form = el("form", { class: "filters", id: "job-filters", onsubmit: e => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const name of ["status", "stage", "search"]) { const v = e.target.elements[name].value.trim(); if (v) next.set(name, v); }
    location.hash = "#/jobs?" + next;
  } },
    el("select", { name: "status", id: "filter-status" }, el("option", { value: "" }, "any status"),
      STATUSES.map(s => el("option", { value: s, selected: params.get("status") === s }, `${s} (${page.counts[s] ?? 0})`))),
    el("input", { name: "stage", id: "filter-stage", placeholder: "stage", value: params.get("stage") || "" }),
    el("input", { name: "search", id: "filter-search", placeholder: "job id or its first/last digits", value: params.get("search") || "", size: 38 }),
    el("button", { type: "submit", id: "filter-submit" }, "Filter"),
    el("a", { href: "#/jobs?stuck=1" }, "stuck jobs"));
  const rows = page.jobs.map(j => el("tr", { "data-job": j.id }, el("td", {}, jobLink(j.id)), el("td", {}, statusBadge(j.status)), el("td", {}, j.stage),
    el("td", { class: "num" }, `${j.chargedAttempts}/${j.maxAttempts}`),
    el("td", {}, j.status === "processing" ? progress(j.progressPercent) : ""), el("td", {}, ago(j.updatedAt)),
    el("td", { class: "mono" }, j.lastErrorCode ? `${j.lastErrorCode}: ${j.lastErrorMessage}` : j.artifactKey || j.outputKey)));
  const offset = page.offset, shown = page.jobs.length;
  const move = delta => { const next = new URLSearchParams(params); next.set("offset", Math.max(0, offset + delta)); location.hash = "#/jobs?" + next; };
  return el("div", {}, el("h1", {}, "Jobs"), form,
    table(["job", "status", "stage", "attempts", "progress", "updated", "output / error"], rows, { id: "job-table" }),
    el("div", { class: "pager" }, el("button", { class: "secondary", disabled: offset === 0, onclick: () => move(-page.limit) }, "newer"),
      el("span", { class: "muted", id: "job-count" }, page.total ? `${offset + 1}-${offset + shown} of ${page.total}` : "no job matches"),
      el("button", { class: "secondary", disabled: offset + shown >= page.total, onclick: () => move(page.limit) }, "older")));
}

async function stuckView() {
  const stuck = await api("/stuck");
  return el("div", {}, el("h1", {}, "Jobs that look stuck"),
    el("p", { class: "muted" }, "Processing without a fresh heartbeat or past the deadline, and queued for more than 10 minutes. The recovery sweep requeues stale processing jobs by itself."),
    stuck.length ? table(["job", "status", "stage", "owner", "last heartbeat", "why"], stuck.map(s => el("tr", {}, el("td", {}, jobLink(s.job.id)),
      el("td", {}, statusBadge(s.job.status)), el("td", {}, s.job.stage), el("td", { class: "mono" }, s.job.leaseOwner || ""),
      el("td", {}, ago(s.job.lastHeartbeatAt)), el("td", {}, s.why))), { id: "stuck-table" }) : el("p", { class: "ok" }, "nothing looks stuck"));
}

// ---------- one job ----------
let seenEvents = new Map();
let pending = null; // an action waiting for its confirmation survives the refreshes

async function jobView(id) {
  // While an action waits for its confirmation, the page holds still so the reason being typed is not lost.
  if (pending && document.getElementById("confirm-box")) return null;
  const { job, timeline } = await api("/jobs/" + encodeURIComponent(id));
  const known = seenEvents.get(job.id) || 0;
  seenEvents.set(job.id, timeline.length);
  const fields = el("dl", { class: "fields" },
    el("dt", {}, "status"), el("dd", {}, statusBadge(job.status), job.cancelRequestedAt && job.status === "processing" ? el("span", { class: "warn" }, ` cancel requested by ${job.cancelBy}`) : ""),
    el("dt", {}, "stage"), el("dd", {}, job.stage),
    el("dt", {}, "progress"), el("dd", { id: "job-progress", "data-percent": job.progressPercent ?? "" }, job.status === "processing" ? [progress(job.progressPercent), ` ${job.progressPercent ?? 0}%`] : "—"),
    el("dt", {}, "attempts"), el("dd", {}, `${job.chargedAttempts} of ${job.maxAttempts}`),
    el("dt", {}, "worker"), el("dd", { class: "mono" }, job.leaseOwner ? `${job.leaseOwner} (heartbeat ${ago(job.lastHeartbeatAt)})` : "—"),
    el("dt", {}, "source"), el("dd", { class: "mono" }, job.source),
    el("dt", {}, "output"), el("dd", { class: "mono" }, job.artifactKey ? `${job.artifactKey} (${job.artifactSize} bytes, sha256 ${job.artifactSha256})` : job.outputKey),
    job.lastErrorCode ? [el("dt", {}, "error"), el("dd", { class: "error" }, `${job.lastErrorCode}: ${job.lastErrorMessage}`)] : null,
    el("dt", {}, "created"), el("dd", {}, time(job.createdAt)),
    job.finishedAt ? [el("dt", {}, "finished"), el("dd", {}, time(job.finishedAt))] : null);
  const rows = timeline.map((e, i) => el("tr", { class: i >= known && known > 0 ? "new" : null, "data-type": e.type, "data-seq": e.seq },
    el("td", { class: "num" }, e.seq), el("td", {}, new Date(e.occurredAt).toLocaleTimeString(undefined, { hour12: false }) + "." + String(new Date(e.occurredAt).getMilliseconds()).padStart(3, "0")),
    el("td", {}, e.type), el("td", { class: "num" }, e.attempt), el("td", { class: "mono" }, Object.entries(e.data || {}).map(([k, v]) => `${k}=${v}`).join("  "))));
  return el("div", {}, el("h1", {}, "Job ", el("span", { class: "mono", id: "job-id" }, job.id)), fields, jobActions(job),
    el("h2", {}, TERMINAL.includes(job.status) ? "Timeline" : "Timeline (live)"),
    table(["seq", "time", "event", "attempt", "details"], rows, { id: "job-timeline" }));
}

function jobActions(job) {
  if (me.role !== "Operator") return el("p", { class: "muted" }, "read-only: actions need an operator key");
  const bar = el("div", { class: "actions" },
    el("button", { class: "danger", id: "cancel-job", disabled: TERMINAL.includes(job.status), onclick: () => { pending = { job: job.id, kind: "cancel" }; route(); } }, "Cancel job"),
    el("button", { id: "requeue-job", disabled: !["failed", "queued"].includes(job.status), onclick: () => { pending = { job: job.id, kind: "requeue" }; route(); } }, "Requeue"));
  if (pending && pending.job === job.id) {
    const reason = el("input", { id: "action-reason", placeholder: pending.kind === "requeue" ? "reason (required)" : "reason (optional)", size: 40 });
    const kind = pending.kind;
    bar.append(el("span", { class: "confirm", id: "confirm-box" }, kind === "cancel" ? "Cancel this job? It never runs again." : "Run this job again with fresh attempts?",
      reason,
      el("button", { class: kind === "cancel" ? "danger" : null, id: "confirm-action", onclick: () => {
        pending = null;
        act(`/jobs/${job.id}/${kind}`, { reason: reason.value || null }, kind === "cancel" ? "cancel sent" : "requeued");
      } }, kind === "cancel" ? "Confirm cancel" : "Confirm requeue"),
      el("button", { class: "secondary", onclick: () => { pending = null; route(); } }, "Keep")));
  }
  return bar;
}

// ---------- dead letters ----------
async function deadLettersView() {
  const letters = await api("/dead-letters");
  const rows = letters.map(l => el("tr", {}, el("td", { class: "mono" }, l.queue), el("td", { class: "mono" }, l.messageId || "-"),
    el("td", {}, l.jobId ? jobLink(l.jobId) : "-"), el("td", {}, l.valid ? el("span", { class: "ok" }, "yes") : el("span", { class: "error" }, "no: " + l.problem)),
    el("td", {}, `${l.exceptionType || ""}: ${l.faultMessage || ""}`),
    el("td", {}, l.valid && l.messageId ? operatorButton("Replay", "replay-" + l.messageId, () => act("/dead-letters/replay", { messageId: l.messageId, all: false, queue: l.queue }, "replayed")) : "")));
  return el("div", {}, el("h1", {}, "Dead letters"),
    el("p", { class: "muted" }, "Messages in the job error queues. Replay sends a valid one back to the queue it failed on, once; a duplicate is skipped on acquire."),
    me.role === "Operator" && letters.some(l => l.valid) ? el("div", { class: "actions" }, operatorButton("Replay all valid", "replay-all", () => act("/dead-letters/replay", { all: true }, "replayed"))) : null,
    letters.length ? table(["queue", "message", "job", "valid", "fault", ""], rows, { id: "dead-letter-table" }) : el("p", { class: "ok" }, "no dead letters"));
}

async function auditView() {
  const entries = await api("/audit?limit=100");
  return el("div", {}, el("h1", {}, "Operator audit"),
    table(["when", "action", "target", "by", "reason", "outcome"], entries.map(a => el("tr", {}, el("td", {}, time(a.at)), el("td", {}, a.action),
      el("td", { class: "mono" }, /^[0-9a-f-]{36}$/.test(a.target) ? jobLink(a.target) : a.target), el("td", {}, a.by), el("td", {}, a.reason || ""), el("td", {}, a.outcome || ""))), { id: "audit-table" }));
}

// ---------- actions ----------
function operatorButton(label, id, onclick) {
  return me && me.role === "Operator" ? el("button", { id, onclick }, label) : null;
}

async function act(path, body, done) {
  try {
    const result = await api(path, { method: "POST", body: body || {} });
    setStatusLine(`${done}: ${result.outcome}${result.replayed !== undefined && result.replayed !== null ? ` (${result.replayed})` : ""}`, "ok");
  } catch (error) {
    setStatusLine("refused: " + error.message, "error");
    alertLine(error.message);
  }
  setTimeout(route, 50);
}

function alertLine(message) {
  const box = el("p", { class: "error", id: "action-error" }, message);
  document.getElementById("view").prepend(box);
}

document.getElementById("login-form").addEventListener("submit", e => {
  e.preventDefault();
  signIn(document.getElementById("login-key").value.trim());
});
document.getElementById("logout").addEventListener("click", () => signOut(""));
window.addEventListener("hashchange", () => { pending = null; route(); });
if (sessionStorage.getItem(KEY)) signIn(sessionStorage.getItem(KEY)); else showLogin("");
