// gesturegan studio: one page, five views, plain JS over the JSON/WAV API of studio/app.py.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c);
  return node;
};
const qs = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null)).toString();
const enc = encodeURIComponent;

// Every request carries the session cookie that opening the printed URL (`/?token=...`) set; the
// server refuses requests without it (401), and so do <img>/<audio> URLs, which send it too.
// A participant's link (`/?survey=ID&key=KEY`) has no session: its key reaches that survey alone.
const LINK = new URLSearchParams(location.search);
const PARTICIPANT = LINK.get("survey") && LINK.get("key") ? { survey: LINK.get("survey"), key: LINK.get("key") } : null;
async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), ...(PARTICIPANT ? { "x-survey-key": PARTICIPANT.key } : {}) };
  const res = await fetch(path, { credentials: "same-origin", ...options, headers });
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (res.status === 401 || res.status === 403) noSession(body && body.detail);
  if (!res.ok) {
    const detail = body && body.detail;
    throw new Error(typeof detail === "string" ? detail : Array.isArray(detail)
      ? detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ") : `HTTP ${res.status}`);
  }
  return body;
}
function noSession(detail) {
  if ($("#no-session")) return;
  document.body.prepend(el("p", { id: "no-session", className: "msg error",
    textContent: detail || "this studio needs its session token: open the URL that 'gesturegan studio' printed" }));
}
const postJSON = (path, data) => api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(data) });
const debounce = (fn, ms) => { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; };
const fill = (select, values, keep = true) => {
  const old = select.value;
  select.replaceChildren(...values.map((v) => (Array.isArray(v) ? el("option", { value: v[0], textContent: v[1] }) : el("option", { value: v, textContent: v }))));
  if (keep && values.some((v) => (Array.isArray(v) ? v[0] : v) === old)) select.value = old;
};
function playFrom(audio, url) {
  audio.src = url;
  const p = audio.play();
  if (p) p.catch(() => {}); // autoplay may be refused; the controls still work
}

let STATE = { runs: [], datasets: [] };
const runByName = (name) => STATE.runs.find((r) => r.name === name);

// ------------------------------------------------------------------ navigation
const VIEWS = ["library", "runs", "generate", "compose", "survey"];
function show() {
  const view = PARTICIPANT ? "survey" : VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "generate";
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== view;
  for (const a of $$("nav a")) a.classList.toggle("active", a.dataset.view === view);
  $("#no-run").hidden = Boolean(PARTICIPANT) || view === "library" || STATE.runs.length > 0;
  document.body.dataset.view = view;
  if (view === "runs") refreshRuns();
  if (view === "survey" && !PARTICIPANT) refreshSurveys();
}
window.addEventListener("hashchange", show);

async function loadState() {
  STATE = await api("/api/state");
  $("#roots").textContent = `runs: ${STATE.runs_root} · data: ${STATE.data_root}`;
  $("#no-run-root").textContent = STATE.runs_root;
  $("#no-data-root").textContent = STATE.data_root;
  const usable = STATE.runs.filter((r) => r.has_generator).map((r) => r.name);
  for (const s of $$(".run-select")) fill(s, usable);
  fill($("#lib-dataset"), STATE.datasets);
  fill($("#sv-dataset"), STATE.datasets);
  $("#no-data").hidden = STATE.datasets.length > 0;
  $("#morph-slider").max = STATE.morph_positions - 1;
}

// ------------------------------------------------------------------ library
let libOffset = 0;
async function loadLibrary(append = false) {
  const ds = $("#lib-dataset").value;
  if (!ds) return;
  if (!append) { libOffset = 0; $("#lib-grid").replaceChildren(); }
  const label = $("#lib-label").value;
  const page = await api(`/api/datasets/${enc(ds)}/clips?${qs({ label, offset: libOffset, limit: 48 })}`);
  fill($("#lib-label"), [["", "all"], ...page.labels.map((l) => [l, l])]);
  $("#lib-label").value = label;
  for (const clip of page.clips) $("#lib-grid").append(clipCard(ds, clip));
  libOffset += page.clips.length;
  $("#lib-count").textContent = `${page.total} clips${label ? ` labelled ${label}` : ""}`;
  $("#lib-more").hidden = libOffset >= page.total;
}
function clipCard(ds, clip) {
  const base = `/api/datasets/${enc(ds)}/clips/${clip.id}`;
  const feats = el("div", { className: "features" });
  const img = el("img", { src: `${base}.png`, alt: `clip ${clip.id}`, loading: "lazy", title: "click: what the labeler hears" });
  const card = el("div", { className: "clip" }, img,
    el("div", {}, el("strong", { textContent: clip.label || "(unlabelled)" }), ` #${clip.id}`),
    el("div", { className: "muted", textContent: clip.source }),
    el("audio", { controls: true, preload: "none", src: `${base}.wav` }), feats);
  let loaded = false;
  const explain = async () => {
    if (loaded) return;
    loaded = true;
    const f = await api(`${base}/features`);
    feats.textContent = `heard as ${f.heard_as}: ${f.explain}`;
    img.title = Object.entries(f.features).map(([k, v]) => `${k}: ${v}`).join("\n");
  };
  img.addEventListener("click", explain);
  img.addEventListener("mouseenter", debounce(explain, 400));
  return card;
}
$("#lib-dataset").addEventListener("change", () => { $("#lib-label").value = ""; loadLibrary(); });
$("#lib-label").addEventListener("change", () => loadLibrary());
$("#lib-more").addEventListener("click", () => loadLibrary(true));

// ------------------------------------------------------------------ runs (live view polls metrics)
let runSel = null, runRows = [], runTimer = null;
async function refreshRuns() {
  await loadState();
  const body = $("#runs-table tbody");
  body.replaceChildren(...STATE.runs.map((r) => {
    const tr = el("tr", {}, ...[r.name, r.model, r.repr, r.stage, r.step].map((t) => el("td", { textContent: t })),
      el("td", { className: r.live ? "live" : "", textContent: r.live ? "training…" : `idle ${Math.round(r.updated_s)} s` }));
    tr.dataset.run = r.name;
    tr.addEventListener("click", () => openRun(r.name));
    return tr;
  }));
  if (runSel) pollMetrics();
  else if (STATE.runs.length) openRun(STATE.runs[0].name);
}
async function openRun(name) {
  runSel = name; runRows = [];
  for (const tr of $$("#runs-table tbody tr")) tr.classList.toggle("selected", tr.dataset.run === name);
  const info = await api(`/api/runs/${enc(name)}`);
  $("#run-detail").hidden = false;
  $("#run-title").textContent = `${name} — ${info.model}, ${info.repr}`;
  const file = (rel) => `/api/files/runs/${rel.split("/").map(enc).join("/")}`;
  $("#run-gif-fig").hidden = !info.progress_gif;
  if (info.progress_gif) $("#run-gif").src = `${file(info.progress_gif)}?t=${Date.now()}`;
  $("#run-video").href = `/api/runs/${enc(name)}/growth.webm`;
  $("#run-grids").replaceChildren(...info.grids.map((g) => el("div", { className: "stage-grid" },
    el("div", {}, el("strong", { textContent: g.stage }), el("br"), el("img", { src: file(g.png), alt: `samples at ${g.stage}` })),
    el("div", {}, ...g.audio.map((a) => el("div", {}, el("span", { className: "muted", textContent: a.split("-").pop() }), el("br"),
      el("audio", { controls: true, preload: "none", src: file(a) })))))));
  await pollMetrics();
}
async function pollMetrics() {
  clearTimeout(runTimer);
  if (!runSel || $("#view-runs").hidden) return;
  const since = runRows.length ? runRows[runRows.length - 1].step : -1;
  const m = await api(`/api/runs/${enc(runSel)}/metrics?since=${since}`);
  runRows.push(...m.rows);
  const last = runRows[runRows.length - 1];
  $("#run-status").innerHTML = "";
  $("#run-status").append(m.live ? el("span", { className: "live", textContent: "training — updating every 3 s. " }) : "finished or paused. ",
    last ? `step ${last.step}, stage ${last.stage}, ${(last.time_s / 60).toFixed(1)} min` : "no metrics yet");
  drawCurves($("#run-curves"), runRows, ["d_loss", "g_loss"]);
  if (m.live) runTimer = setTimeout(pollMetrics, 3000);
}
function drawCurves(canvas, rows, keys) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 36;
  ctx.clearRect(0, 0, W, H);
  const pts = rows.filter((r) => typeof r.step === "number");
  if (!pts.length) { ctx.fillText("no metrics yet", pad, H / 2); return; }
  const vals = pts.flatMap((r) => keys.map((k) => r[k]).filter((v) => typeof v === "number"));
  const x0 = pts[0].step, x1 = Math.max(pts[pts.length - 1].step, x0 + 1);
  const y0 = Math.min(...vals), y1 = Math.max(...vals, y0 + 1e-6);
  const X = (s) => pad + ((s - x0) / (x1 - x0)) * (W - 2 * pad), Y = (v) => H - pad - ((v - y0) / (y1 - y0)) * (H - 2 * pad);
  ctx.strokeStyle = "#ccc"; ctx.strokeRect(pad, pad / 2, W - 2 * pad, H - 1.5 * pad);
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.fillText(y1.toFixed(2), 2, pad / 2 + 8); ctx.fillText(y0.toFixed(2), 2, H - pad);
  ctx.fillText(`step ${x0}`, pad, H - 12); ctx.fillText(`step ${x1}`, W - pad - 60, H - 12);
  let stage = null;
  for (const r of pts) if (r.stage !== stage) {
    stage = r.stage; ctx.strokeStyle = "#ddd"; ctx.beginPath(); ctx.moveTo(X(r.step), pad / 2); ctx.lineTo(X(r.step), H - pad); ctx.stroke();
    ctx.fillText(stage, X(r.step) + 2, pad / 2 + 10);
  }
  const colors = ["#c0392b", "#2c5aa0"];
  keys.forEach((k, i) => {
    ctx.strokeStyle = colors[i % colors.length]; ctx.beginPath();
    let started = false;
    for (const r of pts) if (typeof r[k] === "number") { started ? ctx.lineTo(X(r.step), Y(r[k])) : ctx.moveTo(X(r.step), Y(r[k])); started = true; }
    ctx.stroke(); ctx.fillStyle = colors[i % colors.length]; ctx.fillText(k, W - pad - 60, pad + 14 * i + 10);
  });
}

// ------------------------------------------------------------------ generate & morph
function runChanged() {
  const run = runByName($("#gen-run").value);
  if (!run) return;
  fill($("#gen-category"), run.categories.length ? run.categories : [["", "(unconditional)"]]);
  fill($("#gen-stage"), [["", `final (${run.stages[run.stages.length - 1] || "?"})`], ...run.stages.map((s) => [s, s])]);
  fill($("#morph-from"), run.categories);
  fill($("#morph-to"), run.categories);
  if ($("#morph-to").value === $("#morph-from").value && run.categories.length > 1) $("#morph-to").value = run.categories[1];
  $("#sv-run").value = run.name;
  morphLabels();
  scoreTemplate(run);
}
function genParams() {
  return { category: $("#gen-category").value, seed: $("#gen-seed").value || 0, stage: $("#gen-stage").value };
}
function generate() {
  const run = $("#gen-run").value;
  if (!run) return;
  const q = qs(genParams()), base = `/api/runs/${enc(run)}/sample`;
  $("#gen-img").src = `${base}.png?${q}`;
  $("#gen-download").href = `${base}.wav?${q}&download=true`;
  $("#gen-video").href = `${base}.webm?${q}`;
  playFrom($("#gen-audio"), `${base}.wav?${q}`);
}
function morphParams(position) {
  return { from: $("#morph-from").value, to: $("#morph-to").value, position, seed: $("#morph-seed").value || 0,
    stage: $("#gen-stage").value, mode: $("#morph-mode").value };
}
function morphLabels() {
  const p = +$("#morph-slider").value, max = +$("#morph-slider").max;
  $("#morph-from-name").textContent = $("#morph-from").value;
  $("#morph-to-name").textContent = $("#morph-to").value;
  $("#morph-pos").textContent = `${Math.round((100 * p) / max)} %`;
}
function morph() {
  const run = $("#gen-run").value;
  if (!run) return;
  const p = +$("#morph-slider").value, base = `/api/runs/${enc(run)}/morph`, q = qs(morphParams(p));
  morphLabels();
  $("#morph-img").src = `${base}.png?${q}`;
  $("#morph-download").href = `${base}.wav?${q}&download=true`;
  $("#morph-video").href = `${base}.webm?${qs({ from: $("#morph-from").value, to: $("#morph-to").value, seed: $("#morph-seed").value || 0 })}`;
  playFrom($("#morph-audio"), `${base}.wav?${q}`);
  // Warm the server's cache for the neighbouring stops, so the next move plays at once.
  for (const n of [p + 1, p - 1]) if (n >= 0 && n <= +$("#morph-slider").max) fetch(`${base}.wav?${qs(morphParams(n))}`, { credentials: "same-origin" }).catch(() => {});
}
$("#gen-run").addEventListener("change", runChanged);
$("#gen-play").addEventListener("click", generate);
$("#gen-next").addEventListener("click", () => { $("#gen-seed").value = +$("#gen-seed").value + 1; generate(); });
$("#morph-slider").addEventListener("input", debounce(morph, 120));
for (const id of ["#morph-from", "#morph-to", "#morph-mode", "#morph-seed"]) $(id).addEventListener("change", morph);

// ------------------------------------------------------------------ compose
let templateFor = null;
function scoreTemplate(run) {
  if (templateFor === run.name && $("#score").value) return;
  if ($("#score").value && $("#score").dataset.edited) return;
  templateFor = run.name;
  const [a, b] = [run.categories[0] || "trigger", run.categories[1] || run.categories[0] || "trigger"];
  $("#score").value = `run: ${run.name}\nevents:\n  - {at: 0.0, gesture: ${a}, seed: 3, gain_db: -6, pan: -0.5}\n` +
    `  - {at: 0.6, gesture: ${b}, seed: 1, pan: 0.5}\n  - {at: 1.2, morph: {from: ${a}, to: ${b}, steps: 5, every: 0.35}, pan: 0.0}\n`;
  validateScore();
}
async function validateScore() {
  const msg = $("#score-msg");
  try {
    const r = await postJSON("/api/compose/validate", { score: $("#score").value });
    msg.className = "msg ok"; msg.textContent = `score is valid: ${r.events} events`;
    return true;
  } catch (e) { msg.className = "msg error"; msg.textContent = e.message; return false; }
}
async function renderScore() {
  const btn = $("#score-render"), msg = $("#score-msg");
  btn.disabled = true; msg.className = "msg"; msg.textContent = "rendering…";
  try {
    const r = await postJSON("/api/compose", { score: $("#score").value });
    msg.className = "msg ok";
    msg.textContent = `rendered ${r.duration_s.toFixed(2)} s` + (r.gain_db_applied ? `, normalised by ${r.gain_db_applied.toFixed(1)} dB` : "");
    $("#score-download").href = `${r.wav}?download=true`; $("#score-download").hidden = false;
    $("#score-video").href = r.wav.replace(/\.wav$/, ".webm"); $("#score-video").hidden = false;
    $("#score-events").replaceChildren(el("tr", {}, ...["kind", "at (s)", "length (s)", "gain dB", "pan", "what"].map((t) => el("th", { textContent: t }))),
      ...r.events.map((e) => el("tr", {}, ...[e.kind, e.at_s, e.duration_s.toFixed(2), e.gain_db, e.pan, e.detail].map((t) => el("td", { textContent: t })))));
    playFrom($("#score-audio"), r.wav);
  } catch (e) { msg.className = "msg error"; msg.textContent = e.message; }
  btn.disabled = false;
}
const validateLater = debounce(validateScore, 500);
$("#score").addEventListener("input", (e) => { e.target.dataset.edited = "1"; validateLater(); });
$("#score-render").addEventListener("click", renderScore);
async function refreshUploads() {
  const names = await api("/api/uploads");
  $("#upload-list").replaceChildren(...names.map((n) => el("li", { textContent: n })));
}
$("#upload-send").addEventListener("click", async () => {
  const f = $("#upload-file").files[0];
  if (!f) return;
  try {
    await api(`/api/uploads/${enc(f.name)}`, { method: "PUT", body: f });
    $("#upload-msg").textContent = `uploaded: use file: ${f.name}`;
    refreshUploads();
  } catch (e) { $("#upload-msg").textContent = e.message; }
});

// ------------------------------------------------------------------ survey
let take = null; // {id, participant, categories, stimuli, index}
async function refreshSurveys() {
  const list = await api("/api/surveys");
  $("#sv-list tbody").replaceChildren(...list.map((s) => {
    const takeBtn = el("button", { className: "sv-take", textContent: "Take" });
    const resBtn = el("button", { className: "sv-results", textContent: "Results" });
    takeBtn.addEventListener("click", () => startTaking(s));
    resBtn.addEventListener("click", () => showResults(s.id));
    const tr = el("tr", {}, ...[s.id, s.run, s.n_stimuli, s.n_participants, s.n_answers].map((t) => el("td", { textContent: t })),
      el("td", {}, takeBtn, " ", resBtn, " ", el("a", { className: "sv-csv", href: `/api/surveys/${enc(s.id)}/answers.csv`, textContent: "CSV" }),
        " ", el("a", { className: "sv-link", href: s.participant_url, target: "_blank", textContent: "participant link",
          title: "send this link to a participant: it opens this survey only (no answers, no other views)" })));
    tr.dataset.survey = s.id;
    return tr;
  }));
}
$("#sv-build").addEventListener("click", async () => {
  const btn = $("#sv-build"); btn.disabled = true; $("#sv-build-msg").textContent = "building…";
  try {
    const s = await postJSON("/api/surveys", { run: $("#sv-run").value, dataset: $("#sv-dataset").value,
      real: +$("#sv-real").value, generated: +$("#sv-generated").value, morphs: +$("#sv-morphs").value, seed: Date.now() % 100000 });
    $("#sv-build-msg").textContent = `built ${s.id} with ${s.n_stimuli} clips`;
    await refreshSurveys();
  } catch (e) { $("#sv-build-msg").textContent = e.message; }
  btn.disabled = false;
});
function startTaking(s) {
  take = { id: s.id };
  $("#sv-take-panel").hidden = false; $("#sv-results-panel").hidden = true;
  $("#sv-take-id").textContent = s.id;
  $("#sv-join").hidden = false; $("#sv-question").hidden = true; $("#sv-done").hidden = true;
}
$("#sv-start").addEventListener("click", async () => {
  const participant = $("#sv-participant").value.trim() || `p-${Math.random().toString(36).slice(2, 8)}`;
  $("#sv-participant").value = participant;
  const o = await api(`/api/surveys/${enc(take.id)}/order?${qs({ participant })}`);
  Object.assign(take, { participant, categories: o.categories, stimuli: o.stimuli, index: 0 });
  fill($("#sv-category"), [["", "— choose —"], ...o.categories.map((c) => [c, c])], false);
  $("#sv-join").hidden = true; $("#sv-question").hidden = false;
  showQuestion();
});
function showQuestion() {
  const n = take.stimuli.length;
  $("#sv-progress").textContent = `Clip ${take.index + 1} of ${n}`;
  for (const r of $$("#sv-question input[type=radio]")) r.checked = false;
  $("#sv-category").value = ""; $("#sv-msg").textContent = "";
  const key = PARTICIPANT ? `?${qs({ key: PARTICIPANT.key })}` : "";
  $("#sv-video").src = `/api/surveys/${enc(take.id)}/stimuli/${take.stimuli[take.index]}.webm${key}`;
}
$("#sv-next").addEventListener("click", async () => {
  const real = $("input[name=sv-real]:checked"), rating = $("input[name=sv-rating]:checked"), category = $("#sv-category").value;
  if (!real || !rating || !category) { $("#sv-msg").className = "msg error"; $("#sv-msg").textContent = "please answer all three questions"; return; }
  try {
    await postJSON(`/api/surveys/${enc(take.id)}/answers`, { participant: take.participant, stimulus: take.stimuli[take.index],
      real: real.value === "real", category, rating: +rating.value });
  } catch (e) { $("#sv-msg").className = "msg error"; $("#sv-msg").textContent = e.message; return; }
  take.index += 1;
  if (take.index < take.stimuli.length) showQuestion();
  else { $("#sv-question").hidden = true; $("#sv-done").hidden = false; if (!PARTICIPANT) refreshSurveys(); }
});
const pct = (m) => (m == null ? "–" : `${(100 * m.mean).toFixed(0)} %` + (m.low == null ? "" : ` [${(100 * m.low).toFixed(0)}, ${(100 * m.high).toFixed(0)}]`));
const num = (m) => (m == null ? "–" : m.mean.toFixed(2) + (m.low == null ? "" : ` [${m.low.toFixed(2)}, ${m.high.toFixed(2)}]`));
const table = (head, rows) => el("table", { className: "table" }, el("tr", {}, ...head.map((h) => el("th", { textContent: h }))),
  ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { textContent: c })))));
async function showResults(id) {
  const s = await api(`/api/surveys/${enc(id)}/summary`);
  $("#sv-results-panel").hidden = false; $("#sv-results-id").textContent = id;
  $("#sv-csv").href = `/api/surveys/${enc(id)}/answers.csv`;
  $("#sv-results").replaceChildren(
    el("p", { textContent: `${s.participants} participants, ${s.answers} answers. Brackets: 95 % confidence intervals (Student t).` }),
    table(["clips", "answers", "judged real", "mean rating (1–5)"], Object.entries(s.by_kind).map(([k, v]) => [k, v.answers, pct(v.judged_real), num(v.rating)])),
    table(["category", "answers", "real-or-generated accuracy", "category accuracy"],
      [...Object.entries(s.by_category), ...(s.overall ? [["all", s.overall]] : [])].map(([k, v]) => [k, v.answers, pct(v.real_or_generated), pct(v.category)])));
}

// ------------------------------------------------------------------ start
(async () => {
  if (PARTICIPANT) { // only the survey, nothing else of the studio
    for (const node of [$("nav"), $("#sv-build-box"), $("#sv-list"), $("#roots")]) if (node) node.hidden = true;
    show();
    startTaking({ id: PARTICIPANT.survey });
    return;
  }
  await loadState();
  runChanged();
  show();
  if (STATE.datasets.length) loadLibrary();
  refreshUploads();
})();
