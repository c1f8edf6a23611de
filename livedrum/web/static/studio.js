// The studio page: upload a band file, generate drums with a progress bar, see, regenerate bars, listen, download.
"use strict";
const $ = id => document.getElementById(id);
let project = null, notes = null, info = null, polling = null, version = -1;

function showError(text) { $("error").textContent = text || ""; }

async function api(method, url, body) {
  const opts = { method, headers: {} };
  if (body instanceof FormData) opts.body = body;
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  const r = await fetch(url, opts);
  const data = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
  if (!r.ok) throw new Error(data.error || `${r.status} ${r.statusText}`);
  return data;
}

function options() {
  const kit_off = PIECES.filter(p => !$("kit-" + p).checked);
  return {
    preset: $("preset").value || null, seed: Number($("seed").value),
    complexity: $("complexity-auto").checked ? null : Number($("complexity").value),
    humanize: Number($("humanize").value), kit_off,
  };
}

async function upload() {
  const file = $("file").files[0];
  if (!file) return;
  showError(""); $("status").textContent = "reading " + file.name + "…";
  const form = new FormData(); form.append("file", file);
  try {
    project = await api("POST", "/api/studio/upload", form);
  } catch (e) { showError(e.message); $("status").textContent = ""; return; }
  notes = { band: project.band, bars: project.bars, beats: project.beats, drums: [] };
  version = -1;
  showSong(project.n_bars);
  $("generate").disabled = false; $("regenerate").disabled = true; $("listen").disabled = true;
  $("download").removeAttribute("href"); $("download").setAttribute("aria-disabled", "true");
  $("player").hidden = true; $("progress").value = 0;
  $("status").textContent = "ready: choose the drummer, then generate";
  draw();
}

async function start(url, body) {
  showError("");
  try { await api("POST", url, body); } catch (e) { showError(e.message); return; }
  $("generate").disabled = $("regenerate").disabled = true;
  clearInterval(polling); polling = setInterval(poll, 200);
}

async function poll() {
  let s;
  try { s = await api("GET", `/api/studio/${project.id}`); } catch (e) { showError(e.message); return; }
  $("progress").value = s.progress;
  $("status").textContent = s.status === "running" ? `generating… ${(s.progress * 100).toFixed(0)} %` : s.status;
  if (s.status === "running") return;
  clearInterval(polling); polling = null;
  $("generate").disabled = false;
  if (s.status === "error") { showError(s.error); $("regenerate").disabled = version < 0; return; }
  if (s.version !== version) {
    notes = await api("GET", `/api/studio/${project.id}/notes`);
    version = notes.version;
    if (project.audio) showSong(notes.bars.length);
    $("status").textContent = `done: ${notes.drums.length} drum notes`;
    $("download").href = `/api/studio/${project.id}/download`;
    $("download").setAttribute("download", project.name.replace(/\.[^.]+$/, "") + "-drums.mid");
    $("download").setAttribute("aria-disabled", "false");
    $("regenerate").disabled = false; $("listen").disabled = !info.listen;
    $("player").hidden = true;
    draw();
  }
}

function showSong(bars) {
  $("song").textContent = project.audio
    ? `${project.name}: audio${bars ? `, ${bars} bars found` : " (its beats are found when you generate)"}`
    : `${project.name}: ${bars} bars, ${project.tempo} BPM`;
  $("to-bar").max = $("from-bar").max = Math.max(1, bars);
  $("to-bar").value = Math.min(Math.max(1, bars), 2);
}

function draw() {
  if (!notes) return;
  const pxPerBeat = 14, w = Math.max($("roll").parentElement.clientWidth, notes.beats * pxPerBeat + 60);
  const x = b => 40 + b * pxPerBeat;
  const barSet = new Set(notes.bars);
  const lines = [];
  for (let b = 0; b <= notes.beats; b++) lines.push([b, barSet.has(b)]);
  const band = notes.band.map(n => [n[0], n[1], n[2], n[3]]);
  drawRoll($("roll"), x, lines, band, notes.drums, [], null, w);
  const g = $("roll").getContext("2d");
  g.fillStyle = "#8a939e"; g.font = "10px system-ui";
  notes.bars.forEach((b, i) => { if (i % 4 === 0) g.fillText(String(i + 1), x(b) + 2, 10); });
}

async function listen() {
  showError(""); $("listen-note").textContent = "rendering…"; $("listen").disabled = true;
  try {
    const r = await api("POST", `/api/studio/${project.id}/render`);
    $("player").src = r.url; $("player").hidden = false; $("listen-note").textContent = "";
  } catch (e) { showError(e.message); $("listen-note").textContent = ""; }
  $("listen").disabled = false;
}

async function setup() {
  info = await api("GET", "/api/info");
  for (const name of info.presets) $("preset").add(new Option(name, name));
  for (const piece of PIECES) {
    const label = document.createElement("label");
    label.className = "row";
    label.innerHTML = `<input type="checkbox" id="kit-${piece}" checked> ${piece}`;
    $("kit").appendChild(label);
  }
  if (!info.live) $("live-link").hidden = true;
  $("file-note").textContent = info.audio_files ? "a MIDI file, or a recording (WAV, FLAC, OGG …)"
                                                 : "MIDI files (audio files: not in this version)";
  if (info.audio_files) $("file").accept += ",audio/*," + info.audio_suffixes.join(",");
  if (!info.listen) $("listen-note").textContent = "listening needs the SoundFont renderer (not in this version)";
  $("complexity").addEventListener("input", () => {
    $("complexity-auto").checked = false; $("complexity-value").textContent = Number($("complexity").value).toFixed(2);
  });
  $("complexity-auto").addEventListener("change", () => {
    $("complexity-value").textContent = $("complexity-auto").checked ? "model's" : Number($("complexity").value).toFixed(2);
  });
  $("humanize").addEventListener("input", () => { $("humanize-value").textContent = Number($("humanize").value).toFixed(2); });
  $("file").addEventListener("change", upload);
  $("generate").addEventListener("click", () => start(`/api/studio/${project.id}/generate`, options()));
  $("regenerate").addEventListener("click", () => {
    const seed = Math.floor(Math.random() * 1e9);
    start(`/api/studio/${project.id}/regenerate`, Object.assign(options(), {
      seed, from_bar: Number($("from-bar").value), to_bar: Number($("to-bar").value) }));
  });
  $("listen").addEventListener("click", listen);
  window.addEventListener("resize", draw);
}

setup();
