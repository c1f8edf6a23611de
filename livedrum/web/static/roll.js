// Piano roll drawing shared by the live and studio pages: band notes above, one lane per kit piece below.
"use strict";
const PIECES = ["kick", "snare", "hihat", "toms", "cymbals", "percussion"];
const PIECE_OF = {};
[[35, 36], [37, 38, 40], [42, 44, 46], [41, 43, 45, 47, 48, 50], [49, 51, 52, 53, 55, 57, 59], [56]]
  .forEach((notes, i) => notes.forEach(n => { PIECE_OF[n] = i; }));
const COLORS = { band: "#4aa3ff", drum: "#ff5d73", plan: "#f5a623", grid: "#262b33", bar: "#4a5260", text: "#8a939e" };

function fitCanvas(canvas, cssWidth) {
  // Crisp on phones: draw at the device's pixel ratio.
  const ratio = window.devicePixelRatio || 1;
  const w = cssWidth || canvas.clientWidth, h = canvas.clientHeight;
  if (cssWidth) canvas.style.width = cssWidth + "px";
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { g, w, h };
}

function laneOf(note) { return note in PIECE_OF ? PIECE_OF[note] : 5; }

// Draw one roll. `x(t)` maps a time (seconds or beats) to pixels; lines: [[t, isBar], ...];
// band: [[start, end|null, pitch, velocity]]; drums: [[t, note, velocity]]; planned: [[t, note]].
function drawRoll(canvas, x, lines, band, drums, planned, now, cssWidth) {
  const { g, w, h } = fitCanvas(canvas, cssWidth);
  g.clearRect(0, 0, w, h);
  const split = Math.round(h * 0.55), laneH = (h - split - 4) / PIECES.length;
  for (const [t, isBar] of lines) {
    const px = Math.round(x(t)) + 0.5;
    if (px < 0 || px > w) continue;
    g.strokeStyle = isBar ? COLORS.bar : COLORS.grid; g.lineWidth = isBar ? 1.5 : 1;
    g.beginPath(); g.moveTo(px, 0); g.lineTo(px, h); g.stroke();
  }
  g.fillStyle = "#181c21"; g.fillRect(0, split, w, 2);
  // band: pitch range of what is visible
  let lo = 127, hi = 0;
  for (const n of band) { lo = Math.min(lo, n[2]); hi = Math.max(hi, n[2]); }
  if (lo > hi) { lo = 36; hi = 84; }
  lo -= 2; hi += 2;
  const rowH = Math.max(1.5, (split - 6) / (hi - lo + 1));
  for (const [s, e, p, v] of band) {
    const x0 = x(s), x1 = x(e === null ? now : e);
    if (x1 < 0 || x0 > w) continue;
    g.globalAlpha = 0.45 + 0.55 * v / 127; g.fillStyle = COLORS.band;
    g.fillRect(x0, 3 + (hi - p) * rowH, Math.max(2, x1 - x0), Math.max(1.5, rowH - 0.5));
  }
  g.globalAlpha = 1;
  const r = Math.max(2.5, Math.min(6, laneH * 0.35));
  for (const [t, note, v] of drums) {
    const px = x(t); if (px < -r || px > w + r) continue;
    g.globalAlpha = 0.35 + 0.65 * v / 127; g.fillStyle = COLORS.drum;
    g.beginPath(); g.arc(px, split + 4 + laneH * (laneOf(note) + 0.5), r, 0, 7); g.fill();
  }
  g.globalAlpha = 1; g.strokeStyle = COLORS.plan; g.lineWidth = 1.5;
  for (const [t, note] of planned) {
    const px = x(t); if (px < -r || px > w + r) continue;
    g.beginPath(); g.arc(px, split + 4 + laneH * (laneOf(note) + 0.5), r, 0, 7); g.stroke();
  }
  g.font = "11px system-ui";
  PIECES.forEach((name, i) => {  // lane names last, on a backing, so the notes never hide them
    const y = split + 4 + laneH * (i + 0.5);
    g.fillStyle = "rgba(13,15,18,0.8)"; g.fillRect(0, y - 7, g.measureText(name).width + 8, 14);
    g.fillStyle = COLORS.text; g.fillText(name, 4, y + 4);
  });
  if (now !== null) {
    const px = Math.round(x(now)) + 0.5;
    g.strokeStyle = COLORS.plan; g.lineWidth = 2;
    g.beginPath(); g.moveTo(px, 0); g.lineTo(px, h); g.stroke();
  }
}
