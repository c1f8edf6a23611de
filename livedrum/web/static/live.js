// The live page: one WebSocket; snapshots in (about 25 a second), changes out through the OSC address table.
"use strict";
const $ = id => document.getElementById(id);
const UNITS = ["complexity", "intensity", "swing", "humanize"];
let ws = null, snap = null, snapAt = 0, controls = {};
const busy = {};  // control -> time until which the page's own value wins over incoming ones (while dragging)
const stats = { frames: 0, rate: 0, window: [] };
window.livedrumStats = stats;

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${proto}//${location.host}/ws`);
  ws.onopen = () => { $("link").textContent = "connected"; };
  ws.onclose = () => { $("link").textContent = "reconnecting…"; $("state").textContent = "offline";
                       $("state").className = "pill"; setTimeout(connect, 1000); };
  ws.onmessage = ev => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "snap") {
      snap = msg; snapAt = performance.now(); stats.frames += 1;
      stats.window.push(snapAt);
      while (stats.window.length && stats.window[0] < snapAt - 2000) stats.window.shift();
      showControls(msg.controls); showHealth(msg);
    } else if (msg.type === "change") {
      showControls({ [msg.key]: msg.value });
    } else if (msg.type === "error") {
      showError(msg.reason);
    }
  };
}

function send(address, args) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ address, args: args || [] }));
}
function hold(key) { busy[key] = performance.now() + 700; }
function held(key) { return (busy[key] || 0) > performance.now(); }

let errorTimer = null;
function showError(reason) {
  $("error").textContent = reason;
  clearTimeout(errorTimer); errorTimer = setTimeout(() => { $("error").textContent = ""; }, 6000);
}

function showControls(c) {
  Object.assign(controls, c);
  for (const key of UNITS) {
    if (!(key in c) || held(key)) continue;
    const v = Number(c[key]);
    if ($(key)) { $(key).value = v; $(key + "-value").textContent = v.toFixed(2); }
    if ($(key + "-value")) $(key + "-value").textContent = v.toFixed(2);
  }
  if (("complexity" in c || "intensity" in c) && !held("complexity") && !held("intensity")) placeDot();
  for (const piece of PIECES) {
    const key = "kit/" + piece;
    if (key in c && !held(key)) $("kit-" + piece).setAttribute("aria-pressed", c[key] ? "true" : "false");
  }
  if ("preset" in c && !held("preset")) ensurePreset(c.preset);
  if ("mode" in c) {
    $("mode-follow").classList.toggle("on", c.mode === "follow");
    $("mode-lead").classList.toggle("on", c.mode === "lead");
  }
  if ("tempo" in c) {
    $("bpm").textContent = Number(c.tempo).toFixed(1);
    if (document.activeElement !== $("tempo") && !held("tempo")) $("tempo").value = Math.round(c.tempo * 10) / 10;
  }
  if ("state" in c && typeof c.state === "string") {
    $("state").textContent = c.state; $("state").className = "pill " + c.state;
  }
  if ("bar" in c) $("barbeat").textContent = c.bar ? `${c.bar}:${c.beat}` : "–:–";
}

function ensurePreset(name) {
  const sel = $("preset");
  if (![...sel.options].some(o => o.value === name)) sel.add(new Option(name, name));
  sel.value = name;
}

function showHealth(s) {
  const h = s.health;
  $("health-late").textContent = h.late; $("health-notes").textContent = h.notes;
  $("health-cpu").textContent = h.cpu.toFixed(1) + " %";
  $("health-model").textContent = h.model || "–"; $("health-device").textContent = h.device || "–";
  const n = stats.window.length;
  stats.rate = n > 1 ? (n - 1) / ((stats.window[n - 1] - stats.window[0]) / 1000) : 0;
  $("rate").textContent = stats.rate.toFixed(0) + " Hz";
}

function placeDot() {
  const pad = $("xy"), dot = $("xy-dot");
  dot.style.left = (controls.complexity * pad.clientWidth) + "px";
  dot.style.top = ((1 - controls.intensity) * pad.clientHeight) + "px";
  $("complexity-value").textContent = Number(controls.complexity).toFixed(2);
  $("intensity-value").textContent = Number(controls.intensity).toFixed(2);
}

// ---- the XY pad: complexity across, intensity up; at most 20 changes a second while dragging
let lastXY = 0, pendingXY = null;
function xyFrom(ev) {
  const r = $("xy").getBoundingClientRect();
  const clamp = v => Math.round(Math.min(1, Math.max(0, v)) * 100) / 100;
  return [clamp((ev.clientX - r.left) / r.width), clamp(1 - (ev.clientY - r.top) / r.height)];
}
function moveXY(ev) {
  const [cx, iy] = xyFrom(ev);
  hold("complexity"); hold("intensity");
  controls.complexity = cx; controls.intensity = iy; placeDot();
  pendingXY = [cx, iy];
  const now = performance.now();
  if (now - lastXY >= 50) flushXY(); else setTimeout(flushXY, 50 - (now - lastXY));
}
function flushXY() {
  if (!pendingXY) return;
  lastXY = performance.now();
  send("/livedrum/complexity", [pendingXY[0]]); send("/livedrum/intensity", [pendingXY[1]]);
  pendingXY = null;
}

function setup() {
  const pad = $("xy");
  pad.addEventListener("pointerdown", ev => { pad.setPointerCapture(ev.pointerId); moveXY(ev); });
  pad.addEventListener("pointermove", ev => { if (pad.hasPointerCapture(ev.pointerId)) moveXY(ev); });
  pad.addEventListener("pointerup", ev => { moveXY(ev); flushXY(); });
  for (const key of ["swing", "humanize"]) {
    $(key).addEventListener("input", () => {
      hold(key); $(key + "-value").textContent = Number($(key).value).toFixed(2);
      send("/livedrum/" + key, [Number($(key).value)]);
    });
  }
  for (const piece of PIECES) {
    const b = document.createElement("button");
    b.id = "kit-" + piece; b.textContent = piece; b.setAttribute("aria-pressed", "true");
    b.addEventListener("click", () => {
      const on = b.getAttribute("aria-pressed") !== "true";
      hold("kit/" + piece); b.setAttribute("aria-pressed", on ? "true" : "false");
      send("/livedrum/kit/" + piece, [on ? 1 : 0]);
    });
    $("kit").appendChild(b);
  }
  $("preset").addEventListener("change", () => { hold("preset"); send("/livedrum/preset", [$("preset").value]); });
  $("start").addEventListener("click", () => send("/livedrum/start"));
  $("stop").addEventListener("click", () => send("/livedrum/stop"));
  $("fill").addEventListener("click", () => send("/livedrum/fill"));
  $("tap").addEventListener("click", () => send("/livedrum/tap"));
  $("mode-follow").addEventListener("click", () => send("/livedrum/mode", ["follow"]));
  $("mode-lead").addEventListener("click", () => send("/livedrum/mode", ["lead"]));
  const setTempo = () => { hold("tempo"); send("/livedrum/tempo", [Number($("tempo").value)]); };
  for (const ev of ["focus", "input", "change"]) $("tempo").addEventListener(ev, () => hold("tempo"));
  $("tempo-set").addEventListener("click", setTempo);
  $("tempo").addEventListener("keydown", ev => { if (ev.key === "Enter") setTempo(); });
  fetch("/api/info").then(r => r.json()).then(info => {
    for (const name of info.presets) $("preset").add(new Option(name, name));
    if (controls.preset) ensurePreset(controls.preset);
  });
  window.addEventListener("resize", () => { if ("complexity" in controls) placeDot(); });
  connect();
  requestAnimationFrame(frame);
}

// ---- the roll scrolls smoothly between snapshots: times are shifted by the time since the last one
let drawnAt = 0;
function frame(stamp) {
  requestAnimationFrame(frame);
  if (!snap || stamp - drawnAt < 30) return;  // about 30 drawings a second: smooth, and light on a shared CPU
  drawnAt = stamp;
  const dt = (performance.now() - snapAt) / 1000;
  const c = snap.clock, spb = 60 / c.bpm;
  const past = Math.max(3, 2 * c.bpb * spb), ahead = Math.max(1, 1.25 * spb);
  const w = $("roll").clientWidth;
  const x = t => (t - dt + past) / (past + ahead) * w;
  const lines = [];
  if (c.beat !== null) {
    const nowBeat = c.beat + dt / spb;
    for (let k = Math.ceil(nowBeat - past / spb); k <= nowBeat + ahead / spb; k++) {
      lines.push([(k - nowBeat) * spb + dt, (k - c.meter_start) % c.bpb === 0]);
    }
  }
  drawRoll($("roll"), x, lines, snap.band, snap.drums, snap.planned, dt);
}

setup();
