"""The studio page's server side: upload a band file, generate its drums, regenerate bars, listen, download.

A project is a folder in a temporary directory: the uploaded file, the current result, its audio.
Jobs run as `livedrum.web.studio_job` processes, one at a time (the model is CPU-bound, and the
live drummer may be playing on the same machine); their progress lines are read on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import re
import shutil
import sys
import tempfile
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from livedrum.live.controller import PRESET_NAME
from livedrum.presets import available_presets
from livedrum.vocab import PIECE_NAMES

MAX_UPLOAD = 16 * 1024 * 1024
MAX_PROJECTS = 16
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
ID = re.compile(r"[0-9a-f]{32}")


def audio_suffixes() -> tuple[str, ...]:
    """Audio files need the audio front end's offline path (livedrum.audio); MIDI files always work."""
    try:
        from livedrum.audio.accompany import AUDIO_SUFFIXES
    except ImportError:
        return ()
    return AUDIO_SUFFIXES


def audio_supported() -> bool:
    return bool(audio_suffixes())


def renderer():  # noqa: ANN201
    """`livedrum.render` (FluidSynth and a SoundFont), or None when this version lacks it."""
    try:
        import livedrum.render as render
    except ImportError:
        return None
    return render


@dataclass
class Project:
    id: str
    name: str
    folder: Path
    beats: float
    bars: list[float]  # beat of each bar line
    tempo: float  # BPM at the start
    band: list[tuple[float, float, int, int]]  # (start, end, pitch, velocity) in beats; onsets for audio
    suffix: str = ".mid"  # of the uploaded file: .mid, or an audio type
    status: str = "new"  # new, running, done, error
    progress: float = 0.0
    error: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # bumped with every result, so the page knows to fetch the drums
    process: asyncio.subprocess.Process | None = None

    @property
    def source(self) -> Path:
        return self.folder / f"band{self.suffix}"

    @property
    def is_audio(self) -> bool:
        return self.suffix in audio_suffixes()

    @property
    def result(self) -> Path:
        return self.folder / "drums.mid"


def check_options(body: dict[str, Any]) -> dict[str, Any]:
    """The page's choices, checked (ValueError with the reason): preset, complexity, kit, seed, humanize."""
    out: dict[str, Any] = {"device": "cpu"}
    preset = body.get("preset") or None
    if preset is not None:
        if not isinstance(preset, str) or not PRESET_NAME.fullmatch(preset) or preset not in available_presets():
            raise ValueError(f"unknown preset {str(preset)[:64]!r} (known: {', '.join(available_presets())})")
        out["preset"] = preset
    for name in ("complexity", "humanize"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value)
                                                                               and 0 <= value <= 1):
            raise ValueError(f"{name} must be a number within 0..1, got {value!r}")
        out[name] = float(value)
    kit_off = body.get("kit_off", [])
    if not isinstance(kit_off, list) or any(p not in PIECE_NAMES for p in kit_off):
        raise ValueError(f"kit_off must list kit pieces out of {', '.join(PIECE_NAMES)}, got {kit_off!r}")
    out["kit_off"] = sorted(set(kit_off))
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be a whole number 0..{2**31 - 1}, got {seed!r}")
    out["seed"] = seed
    return out


def read_band(data: bytes, name: str) -> tuple[float, list[float], float, list[tuple[float, float, int, int]]]:
    """Length in beats, bar lines, tempo and band notes of an uploaded MIDI file (ValueError if unusable)."""
    import numpy as np

    from livedrum.grid import bar_positions
    from livedrum.midifile import load_song

    song = load_song(data, name)
    if len(song.band) == 0:
        raise ValueError(f"{name} has no band notes to play along with")
    n = max(1, int(np.ceil(song.length_beats)))
    bar, _, _ = bar_positions(n, song.time_signatures)
    lines = [float(b) for b in range(n) if b == 0 or bar[b] != bar[b - 1]]
    b = song.band
    notes = [(round(float(s), 4), round(float(e), 4), int(p), int(v))
             for s, e, p, v in zip(b.start, b.end, b.pitch, b.velocity)]
    return float(n), lines, round(song.bpm_at(0.0), 2), notes


class Studio:
    """Projects and their jobs; `routes` adds the studio's API to an aiohttp app."""

    def __init__(self, model: str | None = None, log: Any = None) -> None:
        self.model = model
        self.log = log or (lambda event, **fields: None)
        self.root = Path(tempfile.mkdtemp(prefix="livedrum-studio-"))
        self.projects: OrderedDict[str, Project] = OrderedDict()
        self.busy = asyncio.Lock()

    def close(self) -> None:
        for p in self.projects.values():
            if p.process is not None and p.process.returncode is None:
                p.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/studio/upload", self.upload)
        app.router.add_get("/api/studio/{id}", self.status)
        app.router.add_get("/api/studio/{id}/notes", self.notes)
        app.router.add_post("/api/studio/{id}/generate", self.generate)
        app.router.add_post("/api/studio/{id}/regenerate", self.regenerate)
        app.router.add_get("/api/studio/{id}/download", self.download)
        app.router.add_post("/api/studio/{id}/render", self.render)
        app.router.add_get("/api/studio/{id}/audio.wav", self.audio)

    def project(self, request: web.Request) -> Project:
        pid = request.match_info["id"]
        p = self.projects.get(pid) if ID.fullmatch(pid) else None
        if p is None:
            raise _error(404, "no such project (the studio forgets projects when it restarts)")
        return p

    # ---- upload ----------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        try:
            reader = await request.multipart()
            part = await reader.next()
        except (ValueError, AssertionError) as exc:
            raise _error(400, f"send the file as multipart/form-data ({exc})") from exc
        if part is None or getattr(part, "name", None) != "file":
            raise _error(400, "send the file in a form field named 'file'")
        name = Path(part.filename or "band.mid").name[:128]
        data = bytearray()
        while chunk := await part.read_chunk():
            data += chunk
            if len(data) > MAX_UPLOAD:
                raise _error(413, f"{name} is larger than {MAX_UPLOAD // 2**20} MB")
        suffix = Path(name).suffix.lower()
        if suffix in audio_suffixes():  # beats and onsets are found by the job (it takes a while)
            beats, bars, tempo, band = 0.0, [], 0.0, []
        elif suffix in MIDI_SUFFIXES:
            loop = asyncio.get_running_loop()
            try:
                beats, bars, tempo, band = await loop.run_in_executor(None, read_band, bytes(data), name)
            except ValueError as exc:
                raise _error(400, str(exc)) from exc
        else:
            audio = f"or audio ({', '.join(audio_suffixes())})" if audio_supported() else "(audio: not in this version)"
            raise _error(400, f"{name}: not a file the studio reads: use MIDI (.mid) {audio}")
        pid = uuid.uuid4().hex
        folder = self.root / pid
        folder.mkdir()
        p = Project(pid, name, folder, beats, bars, tempo, band, suffix=".mid" if suffix in MIDI_SUFFIXES else suffix)
        p.source.write_bytes(bytes(data))
        self.projects[pid] = p
        while len(self.projects) > MAX_PROJECTS:
            _, old = self.projects.popitem(last=False)
            shutil.rmtree(old.folder, ignore_errors=True)
        self.log("studio", action="upload", name=name, bars=len(bars))
        return web.json_response(self.describe(p) | {"band": band, "bars": bars, "beats": beats})

    def describe(self, p: Project) -> dict[str, Any]:
        return {"id": p.id, "name": p.name, "status": p.status, "progress": round(p.progress, 3),
                "error": p.error, "options": p.options, "version": p.version, "tempo": p.tempo,
                "n_bars": len(p.bars), "audio": p.is_audio}

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.describe(self.project(request)))

    async def notes(self, request: web.Request) -> web.Response:
        """Band and drums (beats) for the piano roll."""
        p = self.project(request)
        drums: list[tuple[float, int, int]] = []
        if p.result.is_file():
            from livedrum.midifile import load_song

            d = (await asyncio.get_running_loop().run_in_executor(None, load_song, p.result)).drums
            drums = [(round(float(s), 4), int(n), int(v)) for s, n, v in zip(d.start, d.pitch, d.velocity)]
        return web.json_response({"band": p.band, "bars": p.bars, "beats": p.beats, "drums": drums,
                                  "version": p.version})

    # ---- jobs ------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise _error(400, f"send the options as JSON ({exc})") from exc
        if not isinstance(body, dict):
            raise _error(400, "send the options as a JSON object")
        return body

    async def generate(self, request: web.Request) -> web.Response:
        p = self.project(request)
        try:
            options = check_options(await self._body(request))
        except ValueError as exc:
            raise _error(400, str(exc)) from exc
        return self._start(p, options, None)

    async def regenerate(self, request: web.Request) -> web.Response:
        """Bars first..last (1-based, inclusive) again with another seed; every other bar stays."""
        p = self.project(request)
        body = await self._body(request)
        if not p.result.is_file():
            raise _error(409, "generate the drums first, then regenerate a range")
        first, last = body.get("from_bar"), body.get("to_bar")
        if not all(isinstance(b, int) and not isinstance(b, bool) for b in (first, last)) \
                or not 1 <= first <= last <= len(p.bars):  # type: ignore[operator]
            raise _error(400, f"bars must be whole numbers with 1 <= from <= to <= {len(p.bars)}, "
                              f"got {first!r}..{last!r}")
        try:
            options = check_options(p.options | {k: v for k, v in body.items() if k not in ("from_bar", "to_bar")})
        except ValueError as exc:
            raise _error(400, str(exc)) from exc
        lo = p.bars[first - 1]
        hi = p.bars[last] if last < len(p.bars) else p.beats
        return self._start(p, options, (lo, hi))

    def _start(self, p: Project, options: dict[str, Any], span: tuple[float, float] | None) -> web.Response:
        if self.busy.locked():
            raise _error(409, "a generation is running: wait for it to finish")
        p.status, p.progress, p.error = "running", 0.0, ""
        asyncio.ensure_future(self._run(p, options, span))
        return web.json_response(self.describe(p), status=202)

    async def _run(self, p: Project, options: dict[str, Any], span: tuple[float, float] | None) -> None:
        async with self.busy:
            out = p.folder / "next.mid"
            spec = {"input": str(p.source), "name": p.name, "output": str(out), "base": str(p.result),
                    "options": options | ({"model": self.model} if self.model else {}),
                    "range": None if span is None else list(span)}
            spec_path = p.folder / "job.json"
            spec_path.write_text(json.dumps(spec))
            error = ""
            try:
                p.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "livedrum.web.studio_job", str(spec_path),
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                assert p.process.stdout is not None
                async for raw in p.process.stdout:
                    line = raw.decode(errors="replace").strip()
                    if line.startswith("progress "):
                        with contextlib.suppress(ValueError):
                            p.progress = float(line.split()[1])
                    elif line.startswith("error "):
                        error = line[6:]
                _, err = await p.process.communicate()
                if p.process.returncode != 0 and not error:
                    lines = err.decode(errors="replace").strip().splitlines()
                    error = lines[-1] if lines else f"the job exited with {p.process.returncode}"
            except OSError as exc:
                error = f"cannot start the job: {exc}"
            if error or not out.is_file():
                p.status, p.error = "error", error or "the job wrote nothing"
                self.log("studio", action="error", reason=p.error)
                return
            out.replace(p.result)
            view = out.with_suffix(".json")
            if view.is_file():  # an audio file: its beats and onsets, found by the job
                found = json.loads(view.read_text())
                p.bars, p.beats, p.band = found["bars"], found["beats"], [tuple(n) for n in found["band"]]
            (p.folder / "mix.wav").unlink(missing_ok=True)
            p.status, p.progress, p.options, p.version = "done", 1.0, options, p.version + 1
            self.log("studio", action="done", name=p.name, range=span)

    # ---- results ---------------------------------------------------------------------------

    async def download(self, request: web.Request) -> web.FileResponse:
        p = self.project(request)
        if not p.result.is_file():
            raise _error(409, "nothing to download yet: generate the drums first")
        stem = Path(p.name).stem
        return web.FileResponse(p.result, headers={
            "Content-Type": "audio/midi", "Content-Disposition": f'attachment; filename="{_safe(stem)}-drums.mid"'})

    async def render(self, request: web.Request) -> web.Response:
        """Band and drums through the SoundFont renderer, for the page's audio player."""
        p = self.project(request)
        render = renderer()
        if render is None:
            raise _error(501, "listening needs the SoundFont renderer (livedrum.render), not in this version")
        if not p.result.is_file():
            raise _error(409, "nothing to listen to yet: generate the drums first")
        wav = p.folder / "mix.wav"
        if not wav.is_file():
            try:
                if p.is_audio:  # the recording itself, with the drums through the SoundFont
                    job = functools.partial(render.render_mix, p.source, p.result, wav)
                else:  # band and drums, both in the result
                    job = functools.partial(render.render_midi, p.result, wav)
                await asyncio.get_running_loop().run_in_executor(None, job)
            except (ValueError, OSError, RuntimeError) as exc:
                raise _error(500, f"cannot render the audio: {exc}") from exc
        return web.json_response({"url": f"/api/studio/{p.id}/audio.wav?v={p.version}"})

    async def audio(self, request: web.Request) -> web.FileResponse:
        wav = self.project(request).folder / "mix.wav"
        if not wav.is_file():
            raise _error(404, "render the audio first")
        return web.FileResponse(wav, headers={"Content-Type": "audio/wav"})


def _safe(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:64] or "song"


def _error(status: int, reason: str) -> web.HTTPException:
    cls = {400: web.HTTPBadRequest, 404: web.HTTPNotFound, 409: web.HTTPConflict, 413: web.HTTPRequestEntityTooLarge,
           500: web.HTTPInternalServerError, 501: web.HTTPNotImplemented}[status]
    if status == 413:
        return cls(max_size=MAX_UPLOAD, actual_size=MAX_UPLOAD + 1, text=json.dumps({"error": reason}),
                   content_type="application/json")
    return cls(text=json.dumps({"error": reason}), content_type="application/json")
