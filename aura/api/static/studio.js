"use strict";
// Aura studio: the gateway's page. Everything goes through the gateway's API; the token (when the gateway has
// one) is asked for once, kept for this tab (sessionStorage) and sent in headers only. What a browser opens
// without headers (the event stream, the player, thumbnails, downloads) comes from the API as signed links.

const $ = (id) => document.getElementById(id);
const STAGES = ["brief", "script", "voice", "visuals", "compose"];
const FIELDS = ["brief", "title", "audience", "style", "duration_seconds", "aspect", "resolution", "fps", "language",
  "voice", "music", "references", "media", "clip_audio", "seed", "visuals_required", "review_script", "preset"];
const PAGE_SIZE = 8;

// ---------------------------------------------------------------- the token and the API

const opened = new URLSearchParams(location.search);
if (opened.get("access_token")) { // a link with the token: keep it for the tab, take it out of the address bar
  sessionStorage.setItem("aura-token", opened.get("access_token"));
  history.replaceState(null, "", location.pathname + location.hash);
}

function askToken(problem) {
  return new Promise((resolve) => {
    const dialog = $("token-dialog");
    $("token-error").textContent = problem || "";
    $("token-form").onsubmit = () => { sessionStorage.setItem("aura-token", $("token").value.trim()); resolve(); };
    if (!dialog.open) dialog.showModal();
    $("token").focus();
  });
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem("aura-token");
  const headers = { ...(options.headers || {}), ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const answer = await fetch(path, { ...options, headers });
  if (answer.status === 401) {
    await askToken(token ? "That token was refused: check it and try again." : "");
    return api(path, options);
  }
  return answer;
}

async function json(answer) {
  return answer.json().catch(() => ({ detail: `the gateway answered ${answer.status}` }));
}

// ---------------------------------------------------------------- the form

async function loadVoices() {
  const language = $("language").value.trim();
  const select = $("voice");
  const chosen = select.value;
  const answer = await api(`/api/voices${/^[A-Za-z0-9-]+$/.test(language) ? `?language=${encodeURIComponent(language.toLowerCase())}` : ""}`);
  if (!answer.ok) return;
  const { items } = await json(answer);
  const groups = {};
  for (const voice of items) (groups[voice.engine] ||= []).push(voice);
  const options = [new Option("the language's default voice", "")];
  for (const [engine, voices] of Object.entries(groups)) {
    const group = document.createElement("optgroup");
    group.label = engine;
    for (const voice of voices) group.append(new Option(`${voice.name} (${voice.id})`, voice.id));
    options.push(group);
  }
  select.replaceChildren(...options);
  select.value = [...select.querySelectorAll("option")].some((o) => o.value === chosen) ? chosen : "";
}

function clearErrors(prefix = "") {
  for (const element of document.querySelectorAll(`[id^="${prefix}"].field-error`)) element.textContent = "";
  for (const element of document.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
}

function showError(field, message, prefix = "") {
  const control = $(`${prefix}${field}`);
  const place = $(`${prefix}${field}-error`) || $(prefix ? "review-error" : "form-error");
  place.textContent = message;
  if (control) { control.setAttribute("aria-invalid", "true"); control.setAttribute("aria-describedby", place.id); }
  return control;
}

// a 422's errors beside their fields: loc ["body", "title"] -> the control named title
function showErrors(problem, prefix = "", known = FIELDS) {
  const details = Array.isArray(problem.detail) ? problem.detail : [];
  let first = null;
  for (const error of details) {
    const loc = (error.loc || []).filter((part) => part !== "body" && part !== "query");
    const field = known.find((name) => name === String(loc[0])) || null;
    const where = field && prefix && loc.length > 1 ? `${field}-${loc[1]}-${loc[2] || ""}`.replace(/-$/, "") : field;
    const control = field ? showError(where, error.msg || problem.message, prefix) : null;
    first ||= control;
  }
  if (!details.length || !first) $(prefix ? "review-error" : "form-error").textContent = problem.message || problem.detail;
  (first || $(prefix ? "review-error" : "form-error")).focus?.();
}

function upload(file) {
  // XMLHttpRequest for its upload progress; the answer's ref names the file in the request
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    const form = new FormData();
    form.append("file", file, file.name);
    request.open("POST", "/api/uploads");
    const token = sessionStorage.getItem("aura-token");
    if (token) request.setRequestHeader("authorization", `Bearer ${token}`);
    $("upload-status").hidden = false;
    $("upload-label").textContent = `Uploading ${file.name}`;
    request.upload.onprogress = (e) => { if (e.lengthComputable) $("upload-bar").value = (100 * e.loaded) / e.total; };
    request.onload = () => {
      const answer = JSON.parse(request.responseText || "{}");
      $("upload-bar").value = 100;
      if (request.status === 201) resolve(answer);
      else reject(new Error(answer.detail || `the upload of ${file.name} failed (${request.status})`));
    };
    request.onerror = () => reject(new Error(`the upload of ${file.name} was cut off: try again`));
    request.send(form);
  });
}

async function uploaded(field, files) {
  const refs = [];
  for (const file of files) {
    try {
      const kept = await upload(file);
      refs.push(kept.ref);
      $("uploads").textContent += `${$("uploads").textContent ? ", " : "uploaded "}${kept.name} (${Math.ceil(kept.size / 1024)} KiB)`;
    } catch (err) {
      throw Object.assign(err, { field });
    }
  }
  return refs;
}

$("brief-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  $("make").disabled = true;
  $("uploads").textContent = "";
  const value = (id) => $(id).value.trim();
  const body = {
    brief: value("brief"), style: value("style"), duration_seconds: Number(value("duration_seconds")),
    aspect: value("aspect"), resolution: value("resolution"), fps: Number(value("fps")), language: value("language"),
    clip_audio: $("clip_audio").checked, visuals_required: $("visuals_required").checked, review_script: $("review_script").checked,
  };
  for (const id of ["title", "audience", "voice"]) if (value(id)) body[id] = value(id);
  if (value("seed") !== "") body.seed = Number(value("seed"));
  try {
    body.references = await uploaded("references", $("references").files);
    body.media = await uploaded("media", $("media").files);
    if ($("music").files.length) [body.music] = await uploaded("music", $("music").files);
  } catch (err) {
    showError(err.field, err.message).focus();
    $("make").disabled = false;
    return;
  } finally {
    $("upload-status").hidden = true;
  }
  const answer = await api(`/api/videos/generate?preset=${encodeURIComponent(value("preset"))}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const job = await json(answer);
  $("make").disabled = false;
  if (answer.status !== 202) { showErrors(job); return; }
  location.hash = `job=${job.jobId}`;
});

// ---------------------------------------------------------------- a job

let events = null;

function showStages() {
  $("stages").replaceChildren(...STAGES.map((stage) => {
    const item = document.createElement("li");
    item.id = `stage-${stage}`;
    item.innerHTML = `<label for="bar-${stage}">${stage}</label><progress id="bar-${stage}" max="100" value="0"></progress>`;
    return item;
  }));
}

function progressed(p) {
  $("bar").value = p.percentage;
  $("percent").textContent = `${Math.round(p.percentage)} %`;
  $("eta").textContent = p.etaSeconds == null ? "" : `· about ${Math.max(1, Math.round(p.etaSeconds))} s left`;
  $("stage").textContent = p.stage || "waiting";
  $("message").textContent = p.message || "";
  for (const [stage, percent] of Object.entries(p.stages || {})) {
    const bar = $(`bar-${stage}`);
    if (bar) bar.value = percent;
  }
}

// $2.50, $0.0123, $0.0000075: as aura.spend.usd writes it
function usd(amount) {
  const [whole, cents] = amount.toFixed(amount >= 1 ? 2 : 8).split(".");
  return `$${whole}.${cents.replace(/0+$/, "").padEnd(2, "0")}`;
}

function showSpent(spend) {
  const parts = [];
  const sum = (uses, key) => Object.values(uses || {}).reduce((total, use) => total + use[key], 0);
  if (Object.keys(spend?.llm || {}).length) {
    parts.push(`LLM ${sum(spend.llm, "tokens_in").toLocaleString("en")} in / ${sum(spend.llm, "tokens_out").toLocaleString("en")} out tokens`);
  }
  if (Object.keys(spend?.speech || {}).length) parts.push(`speech ${sum(spend.speech, "characters").toLocaleString("en")} characters`);
  const calls = Object.values(spend?.stock_calls || {}).reduce((total, n) => total + n, 0);
  if (calls) parts.push(`stock ${calls} API calls`);
  if (spend?.gpu_seconds) parts.push(`GPU ${spend.gpu_seconds.toFixed(1)} s`);
  $("spent").hidden = !parts.length; // free providers only: nothing to say
  $("spent").textContent = parts.length ? `Spent ${usd(spend.total_usd)}: ${parts.join(", ")}` : "";
}

// what an ended job spent; a failed one records it a moment after its state turns
async function loadSpent(jobId, tries = 3) {
  const answer = await api(`/api/videos/${jobId}/status`);
  if (!answer.ok || $("job").dataset.jobId !== jobId) return;
  const job = await json(answer);
  if (job.spend) showSpent(job.spend);
  else if (tries > 1 && ["failed", "cancelled"].includes(job.status)) setTimeout(() => loadSpent(jobId, tries - 1), 1500);
}

async function follow(jobId) {
  if (events) events.close();
  const answer = await api(`/api/videos/${jobId}/status`);
  const job = await json(answer);
  $("job").hidden = false;
  $("job").dataset.jobId = jobId;
  if (!answer.ok) { $("error").textContent = job.detail; return; }
  $("error").textContent = "";
  showSpent(job.spend);
  $("review-form").hidden = $("player").hidden = $("downloads").hidden = $("retry").hidden = true;
  $("cancel").hidden = false;
  showStages();
  progressed({ percentage: job.progress, stage: job.stage, message: job.message, stages: job.stageProgress, etaSeconds: job.etaSeconds });
  $("job-brief").textContent = job.brief;
  $("job").scrollIntoView({ block: "start" });
  events = new EventSource(job.streamUrl);
  events.addEventListener("progress", (e) => progressed(JSON.parse(e.data)));
  events.addEventListener("stage-complete", (e) => {
    const s = JSON.parse(e.data);
    $(`stage-${s.stage}`)?.classList.add("done");
    if ($(`bar-${s.stage}`)) $(`bar-${s.stage}`).value = 100;
  });
  events.addEventListener("review", (e) => review(JSON.parse(e.data)));
  events.addEventListener("done", (e) => { events.close(); finished(JSON.parse(e.data)); });
  events.addEventListener("error", (e) => {
    if (!e.data) return; // a dropped connection: EventSource reconnects by itself
    events.close();
    const err = JSON.parse(e.data);
    $("error").textContent = `${err.stage ? `${err.stage} stage ` : ""}${err.status}: ${err.message}`;
    $("cancel").hidden = true;
    $("retry").hidden = false;
    $("review-form").hidden = true;
    loadSpent(jobId);
    loadList();
  });
}

function finished(d) {
  progressed({ percentage: 100, stage: "done", message: $("message").textContent.replace(/^done:\s*/, ""), stages: Object.fromEntries(STAGES.map((s) => [s, 100])) });
  const player = $("player");
  player.poster = d.thumbnailUrl;
  player.src = d.downloadUrl;
  $("captions").src = `${d.subtitlesUrl}${d.subtitlesUrl.includes("?") ? "&" : "?"}format=vtt`;
  player.textTracks[0].mode = "hidden"; // loaded for players and screen readers; the picture has them burned in already
  player.hidden = false;
  $("download").href = d.downloadUrl;
  $("srt").href = d.subtitlesUrl;
  $("metadata").href = d.metadataUrl;
  $("downloads").hidden = false;
  $("cancel").hidden = true;
  $("review-form").hidden = true;
  loadSpent($("job").dataset.jobId);
  loadList();
}

$("cancel").addEventListener("click", async () => {
  const jobId = $("job").dataset.jobId;
  const answer = await api(`/api/videos/${jobId}/cancel`, { method: "POST" });
  if (answer.status !== 202) $("error").textContent = (await json(answer)).detail;
  else $("message").textContent = "cancelling…";
});

$("retry").addEventListener("click", async () => {
  const jobId = $("job").dataset.jobId;
  const answer = await api(`/api/videos/${jobId}/retry`, { method: "POST" });
  if (answer.status !== 202) { $("error").textContent = (await json(answer)).detail; return; }
  follow(jobId);
});

// ---------------------------------------------------------------- the script review

const SCENE_FIELDS = [["narration", "What the voice says", "textarea"], ["key_phrase", "Title card", "input"],
  ["visual_prompt", "What the picture shows", "textarea"], ["search_terms", "Stock search terms (comma-separated)", "input"],
  ["media", "Your image or clip (an upload ref), if any", "input"]];

async function review(data) {
  const answer = await api(data.scriptUrl);
  if (!answer.ok) return;
  const script = await json(answer);
  const form = $("review-form");
  form.dataset.url = data.scriptUrl;
  $("review-title").value = script.title;
  $("scenes").replaceChildren(...script.scenes.map((scene, i) => {
    const box = document.createElement("fieldset");
    box.className = "scene";
    box.innerHTML = `<legend>Scene ${i + 1}</legend>`;
    for (const [name, label, kind] of SCENE_FIELDS) {
      const id = `review-scenes-${i}-${name}`;
      const field = document.createElement("div");
      field.className = "field";
      field.innerHTML = `<label for="${id}"></label><${kind} id="${id}" name="${name}"${kind === "textarea" ? ' rows="2"' : ""}></${kind}><p class="field-error" id="${id}-error" role="alert"></p>`;
      field.querySelector("label").textContent = label;
      const value = name === "search_terms" ? scene.search_terms.join(", ") : scene[name] || "";
      field.querySelector(kind).value = value;
      box.append(field);
    }
    return box;
  }));
  form.hidden = false;
  $("stage").textContent = "script ready";
  $(`review-scenes-0-narration`)?.focus();
}

$("review-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors("review-");
  const scenes = [...$("scenes").querySelectorAll(".scene")].map((box, i) => {
    const read = (name) => $(`review-scenes-${i}-${name}`).value.trim();
    return {
      narration: read("narration"), key_phrase: read("key_phrase"), visual_prompt: read("visual_prompt"),
      search_terms: read("search_terms").split(",").map((t) => t.trim()).filter(Boolean), media: read("media") || null,
    };
  });
  $("resume").disabled = true;
  const answer = await api($("review-form").dataset.url, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ title: $("review-title").value.trim(), scenes }),
  });
  $("resume").disabled = false;
  if (answer.status !== 202) { showErrors(await json(answer), "review-", ["title", "scenes"]); return; }
  $("review-form").hidden = true;
  $("stage").textContent = "rendering your script";
});

// ---------------------------------------------------------------- the list

let offset = 0;

async function loadList() {
  const answer = await api(`/api/videos?limit=${PAGE_SIZE}&offset=${offset}`);
  if (!answer.ok) return;
  const page = await json(answer);
  $("video-list").replaceChildren(...page.items.map((item) => {
    const entry = document.createElement("li");
    const open = document.createElement("button");
    open.type = "button";
    open.dataset.jobId = item.jobId;
    const picture = item.thumbnailUrl ? Object.assign(document.createElement("img"), { src: item.thumbnailUrl, alt: "" })
      : Object.assign(document.createElement("span"), { className: "no-thumb" });
    const words = document.createElement("span");
    words.textContent = item.brief;
    const facts = document.createElement("span");
    facts.innerHTML = `<span class="status ${item.status}"></span> · <span class="length"></span>`;
    facts.querySelector(".status").textContent = item.status.replace("_", " ");
    facts.querySelector(".length").textContent = item.durationSeconds ? `${Math.round(item.durationSeconds)} s` : "";
    open.append(picture, words, facts);
    open.setAttribute("aria-label", `${item.brief}: ${item.status}`);
    open.addEventListener("click", () => { location.hash = `job=${item.jobId}`; });
    entry.append(open);
    return entry;
  }));
  const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
  $("page-label").textContent = `page ${Math.floor(offset / PAGE_SIZE) + 1} of ${pages}`;
  $("newer").disabled = offset === 0;
  $("older").disabled = offset + PAGE_SIZE >= page.total;
}

$("newer").addEventListener("click", () => { offset = Math.max(0, offset - PAGE_SIZE); loadList(); });
$("older").addEventListener("click", () => { offset += PAGE_SIZE; loadList(); });

// ---------------------------------------------------------------- start

function route() {
  const match = location.hash.match(/^#job=([0-9a-f-]{36})$/);
  if (match) follow(match[1]);
}

let voicesTimer = null;
$("language").addEventListener("input", () => { clearTimeout(voicesTimer); voicesTimer = setTimeout(loadVoices, 300); });
window.addEventListener("hashchange", route);

(async () => {
  await api("/api/health"); // asks for the token first, when the gateway has one
  loadVoices();
  loadList();
  route();
})();
