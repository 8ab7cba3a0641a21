"""Synthetic demo music: procedurally generated tracks in ten styles named after GTZAN's genres.

**This is not real music and not GTZAN.** It exists so that a new user can run genrekit end
to end (``genrekit demo``) without downloading anything, and so tests have labelled audio with
known structure. Accuracies measured on it say nothing about real genre classification.

Each style is a small arrangement recipe with musically meaningful traits:

==========  =========  ==================================================================
style       BPM        drums / harmony / instruments
==========  =========  ==================================================================
blues       60-100     swung shuffle, backbeat; 12-bar I7-IV7-V7; plucked guitar, e-piano
classical   56-110     no drums; triads (I-IV-V, vi-ii-V) as string pads + arpeggios;
                       slow swells of loudness
country     90-140     train beat, boom-chick root/fifth bass; I-IV-V major; plucked strings
disco       110-132    four-on-the-floor, open hats on the off-beat; minor 7ths, octave bass
hiphop      78-100     boom-bap kick/snare, swung hats; dark minor stabs, long 808 sub bass
jazz        100-200    swing ride, hi-hat on 2 and 4, walking bass; ii-V-I with 7ths/9ths
metal       100-200    double kick or blast beat; distorted power chords, chromatic riffs
pop         92-128     backbeat; I-V-vi-IV; synth pad, bright square lead
reggae      64-90      one drop, off-beat skank chords, deep bass, organ bubble
rock        100-150    backbeat, 8th hats; I-bVII-IV / I-IV-V; overdriven power chords
==========  =========  ==================================================================

Every track draws its tempo, key, swing, drum pattern, instrument brightness, distortion,
mix levels, "recording" bandwidth and hiss at random, and sometimes borrows a trait from a
neighbouring style (a rock beat under a country song, a pop kick in disco), so the classes
overlap the way real genres do. A track depends only on ``(seed, style, index)``: the same
arguments give bit-identical files, whatever ``per_genre`` is.

Synthesis is numpy only and vectorised: band-limited wavetable oscillators (additive
harmonics), two-rate decaying plucks (the modal decay of a Karplus-Strong string), FM
electric piano, noise drums, ``tanh`` distortion and FFT-domain filtering.
"""

from __future__ import annotations

import io
import os
import sys
import wave
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from genrekit._io import atomic_write, atomic_write_text
from genrekit.constants import GENRES, SAMPLE_RATE
from genrekit.exceptions import ParameterError

__all__ = ["write_dataset", "synthesize", "track_params", "STYLES"]

_SR = SAMPLE_RATE
_STEPS = 16  # a bar of 4/4 in 16th notes


@dataclass(frozen=True)
class _Style:
    """One style's recipe. Patterns are 16-step bars: ``x`` hit, ``o`` soft hit, ``.`` rest."""

    tempo: tuple[float, float]
    swing: tuple[float, float]
    drums: tuple[dict[str, str], ...]  # alternatives; instrument -> pattern
    progressions: tuple[tuple[tuple[int, str], ...], ...]  # (semitones from key, quality) per bar
    minor: bool
    scale: tuple[int, ...]
    chord_inst: tuple[str, ...]
    chord_rhythm: tuple[str, ...]
    bass: str
    bass_rhythm: tuple[str, ...]
    lead: tuple[str, ...]
    lead_density: tuple[float, float]
    drive: tuple[float, float]
    bandwidth: tuple[float, float]  # master low-pass, Hz
    hiss: tuple[float, float]
    key_range: tuple[int, int] = (40, 47)  # MIDI of the bass key note
    swell: bool = False
    neighbours: tuple[str, ...] = ()


_MAJ, _MIN = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
_PENTA, _BLUES_SCALE = (0, 3, 5, 7, 10), (0, 3, 5, 6, 7, 10)
_DORIAN = (0, 2, 3, 5, 7, 9, 10)
_QUALITIES = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "m7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "9": (0, 4, 7, 10, 14),
    "m9": (0, 3, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "5": (0, 7, 12),
}

STYLES: dict[str, _Style] = {
    "blues": _Style(
        tempo=(60, 100), swing=(0.6, 0.68),
        drums=({"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
               {"kick": "x.....o.x.......", "snare": "....x.......x..o", "ride": "x.x.x.x.x.x.x.x."}),
        progressions=(tuple((d, "7") for d in (0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7)),
                      tuple((d, "7") for d in (0, 5, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7))),
        minor=False, scale=_BLUES_SCALE, chord_inst=("epiano", "pluck", "organ"),
        chord_rhythm=("x.x.x.x.x.x.x.x.", "x...x...x...x...", "x..............."),
        bass="walking", bass_rhythm=("x...x...x...x...",), lead=("pluck", "organ"),
        lead_density=(0.3, 0.6), drive=(0.0, 2.0), bandwidth=(3500, 9000), hiss=(0.002, 0.01),
        neighbours=("jazz", "rock", "country"),
    ),
    "classical": _Style(
        tempo=(56, 110), swing=(0.5, 0.5), drums=({},),
        progressions=(((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
                      ((9, "min"), (2, "min"), (7, "maj"), (0, "maj")),
                      ((0, "min"), (8, "maj"), (5, "min"), (7, "maj"))),
        minor=False, scale=_MAJ, chord_inst=("pad", "piano"),
        chord_rhythm=("x...............", "x.x.x.x.x.x.x.x."),
        bass="root", bass_rhythm=("x...............", "x.......x......."),
        lead=("violin", "piano", "flute"), lead_density=(0.3, 0.7), drive=(0.0, 0.0),
        bandwidth=(5000, 11000), hiss=(0.0, 0.004), key_range=(36, 48), swell=True,
        neighbours=("jazz",),
    ),
    "country": _Style(
        tempo=(90, 140), swing=(0.5, 0.56),
        drums=({"kick": "x.......x.......", "snare": "o.o.x.o.o.o.x.o.", "hat": "x.x.x.x.x.x.x.x."},
               {"kick": "x...x...x...x...", "snare": "....x.......x..."}),
        progressions=(((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
                      ((0, "maj"), (0, "maj"), (5, "maj"), (7, "maj"))),
        minor=False, scale=(0, 2, 4, 7, 9), chord_inst=("pluck",),
        chord_rhythm=("....x.......x...", "x.x.x.x.x.x.x.x.", "..x...x...x...x."),
        bass="rootfifth", bass_rhythm=("x.......x.......",), lead=("pluck", "fiddle"),
        lead_density=(0.4, 0.8), drive=(0.0, 0.3), bandwidth=(6000, 11000), hiss=(0.0, 0.004),
        neighbours=("rock", "pop", "blues"),
    ),
    "disco": _Style(
        tempo=(110, 132), swing=(0.5, 0.52),
        drums=({"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x.",
                "openhat": "..x...x...x...x."},
               {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "xxxxxxxxxxxxxxxx"}),
        progressions=(((0, "m7"), (5, "m7")), ((0, "m7"), (3, "maj7"), (5, "m7"), (7, "m7")),
                      ((0, "m9"), (10, "7"))),
        minor=True, scale=_DORIAN, chord_inst=("pad", "epiano"),
        chord_rhythm=("..x...x...x...x.", "x...............", "x..x..x...x..x.."),
        bass="octave", bass_rhythm=("x.x.x.x.x.x.x.x.",), lead=("strings", "square"),
        lead_density=(0.2, 0.5), drive=(0.0, 0.3), bandwidth=(8000, 11000), hiss=(0.0, 0.003),
        neighbours=("pop", "hiphop"),
    ),
    "hiphop": _Style(
        tempo=(78, 100), swing=(0.54, 0.64),
        drums=({"kick": "x.........x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
               {"kick": "x......x..x.....", "snare": "....x.......x...", "hat": "x.xxx.x.x.xxx.x."},
               {"kick": "x.x.......x..x..", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."}),
        progressions=(((0, "min"), (8, "maj"), (5, "min"), (7, "min")), ((0, "m7"), (5, "m7")),
                      ((0, "min"), (0, "min"), (3, "maj"), (10, "maj"))),
        minor=True, scale=_MIN, chord_inst=("piano", "epiano", "pad"),
        chord_rhythm=("x.....x.........", "x.......x.......", "x..............."),
        bass="808", bass_rhythm=("x.........x.....", "x......x..x....."), lead=("none", "square"),
        lead_density=(0.0, 0.3), drive=(0.0, 0.6), bandwidth=(6000, 11000), hiss=(0.0, 0.01),
        key_range=(34, 42), neighbours=("reggae", "pop", "disco"),
    ),
    "jazz": _Style(
        tempo=(100, 200), swing=(0.62, 0.7),
        drums=({"ride": "x...x.x.x...x.x.", "hat": "....x.......x...", "kick": "o..............."},
               {"ride": "x...x.x.x...x.x.", "hat": "....x.......x...", "brush": "x.x.x.x.x.x.x.x."}),
        progressions=(((2, "m7"), (7, "9"), (0, "maj7"), (0, "maj7")),
                      ((2, "m9"), (7, "7"), (0, "maj9"), (9, "7")),
                      ((0, "maj7"), (9, "m7"), (2, "m7"), (7, "9"))),
        minor=False, scale=_DORIAN, chord_inst=("epiano", "piano"),
        chord_rhythm=("x.....x.........", "..x.....x.....x.", "x...........x..."),
        bass="walking", bass_rhythm=("x...x...x...x...",), lead=("brass", "epiano", "flute"),
        lead_density=(0.4, 0.9), drive=(0.0, 0.0), bandwidth=(3500, 10000), hiss=(0.001, 0.008),
        neighbours=("blues", "classical"),
    ),
    "metal": _Style(
        tempo=(100, 200), swing=(0.5, 0.5),
        drums=({"kick": "xxxxxxxxxxxxxxxx", "snare": "....x.......x...", "crash": "x.......x......."},
               {"kick": "x.x.x.x.x.x.x.x.", "snare": ".x.x.x.x.x.x.x.x", "crash": "x...x...x...x..."},
               {"kick": "x.xxx.xxx.xxx.xx", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."}),
        progressions=(((0, "5"), (1, "5"), (5, "5"), (3, "5")), ((0, "5"), (0, "5"), (8, "5"), (7, "5")),
                      ((0, "5"), (6, "5"), (5, "5"), (1, "5"))),
        minor=True, scale=(0, 1, 3, 5, 7, 8, 10), chord_inst=("power",),
        chord_rhythm=("xxxxxxxxxxxxxxxx", "x.xxx.xxx.xxx.xx", "x.x.x.x.x.x.x.x."),
        bass="root", bass_rhythm=("x.x.x.x.x.x.x.x.",), lead=("none", "distlead"),
        lead_density=(0.0, 0.5), drive=(6.0, 20.0), bandwidth=(7000, 11000), hiss=(0.0, 0.004),
        key_range=(38, 43), neighbours=("rock",),
    ),
    "pop": _Style(
        tempo=(92, 128), swing=(0.5, 0.55),
        drums=({"kick": "x.....x.x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
               {"kick": "x...x...x...x...", "snare": "....x.......x...", "hat": "..x...x...x...x."},
               {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "xxxxxxxxxxxxxxxx"}),
        progressions=(((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
                      ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")),
                      ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj"))),
        minor=False, scale=_MAJ, chord_inst=("pad", "pluck", "piano"),
        chord_rhythm=("x...............", "x..x..x.x..x..x.", "x.x.x.x.x.x.x.x."),
        bass="root", bass_rhythm=("x.x.x.x.x.x.x.x.", "x..x..x.x......."), lead=("square", "pluck"),
        lead_density=(0.4, 0.8), drive=(0.0, 0.5), bandwidth=(9000, 11000), hiss=(0.0, 0.002),
        neighbours=("disco", "rock", "country"),
    ),
    "reggae": _Style(
        tempo=(64, 90), swing=(0.5, 0.6),
        drums=({"kick": "........x.......", "snare": "........x.......", "hat": "x.x.x.x.x.x.x.x."},
               {"kick": "x.......x.......", "snare": "........x.......", "hat": "..x...x...x...x."},
               {"kick": "x...x...x...x...", "snare": "........x.......", "hat": "x.x.x.x.x.x.x.x."}),
        progressions=(((0, "maj"), (5, "maj")), ((0, "min"), (5, "min")),
                      ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj"))),
        minor=False, scale=_PENTA, chord_inst=("pluck", "organ"),
        chord_rhythm=("..x...x...x...x.", "..x...x...x...x.", "..xx..xx..xx..xx"),
        bass="reggae", bass_rhythm=("x..x..x.....x...", "x.....x.x.......", "x...x.x....x...."),
        lead=("none", "organ"), lead_density=(0.0, 0.4), drive=(0.0, 0.2),
        bandwidth=(5000, 10000), hiss=(0.0, 0.006), key_range=(36, 44),
        neighbours=("hiphop", "pop"),
    ),
    "rock": _Style(
        tempo=(100, 150), swing=(0.5, 0.54),
        drums=({"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
               {"kick": "x.x.....x.x.....", "snare": "....x.......x...", "ride": "x.x.x.x.x.x.x.x.",
                "crash": "x..............."}),
        progressions=(((0, "5"), (10, "5"), (5, "5"), (0, "5")), ((0, "maj"), (5, "maj"), (7, "maj"), (5, "maj")),
                      ((0, "5"), (7, "5"), (9, "5"), (5, "5"))),
        minor=False, scale=_PENTA, chord_inst=("power", "pluck"),
        chord_rhythm=("x.x.x.x.x.x.x.x.", "x.......x.x.....", "xxxxxxxxxxxxxxxx"),
        bass="root", bass_rhythm=("x.x.x.x.x.x.x.x.",), lead=("distlead", "none"),
        lead_density=(0.2, 0.6), drive=(1.5, 6.0), bandwidth=(6000, 11000), hiss=(0.0, 0.004),
        neighbours=("metal", "pop", "country", "blues"),
    ),
}


def _midi_hz(m: float | np.ndarray) -> Any:
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


# --------------------------------------------------------------------------- params


def track_params(genre: str, *, index: int = 0, seed: int = 0) -> dict[str, Any]:
    """The random choices of one synthetic track (tempo, key, patterns, instruments...).

    Parameters
    ----------
    genre : str
        One of :data:`genrekit.constants.GENRES`.
    index : int
        Track number within the style.
    seed : int
        Dataset seed.

    Returns
    -------
    dict
        ``tempo`` (BPM), ``key`` (MIDI note of the bass tonic), ``swing``, ``drums``
        (instrument -> 16-step pattern), ``progression``, ``chord_inst``, ``chord_rhythm``,
        ``bass``, ``bass_rhythm``, ``lead``, ``lead_density``, ``drive``, ``bandwidth``,
        ``hiss``, ``levels``, ``brightness``, ``borrowed`` (the neighbouring style a trait
        came from, or None).
    """
    if genre not in STYLES:
        raise ParameterError(f"unknown style {genre!r}; expected one of {', '.join(GENRES)}")
    g = GENRES.index(genre)
    rng = np.random.default_rng([int(seed), g, int(index)])
    st = STYLES[genre]

    def pick(options: tuple[Any, ...]) -> Any:
        return options[int(rng.integers(len(options)))]

    def uni(lo_hi: tuple[float, float]) -> float:
        return float(rng.uniform(*lo_hi))

    p: dict[str, Any] = {
        "genre": genre,
        "tempo": round(uni(st.tempo), 1),
        "key": int(rng.integers(st.key_range[0], st.key_range[1] + 1)),
        "swing": uni(st.swing),
        "drums": dict(pick(st.drums)),
        "progression": pick(st.progressions),
        "chord_inst": pick(st.chord_inst),
        "chord_rhythm": pick(st.chord_rhythm),
        "bass": st.bass,
        "bass_rhythm": pick(st.bass_rhythm),
        "lead": pick(st.lead),
        "lead_density": uni(st.lead_density),
        "scale": st.scale,
        "drive": uni(st.drive),
        "bandwidth": uni(st.bandwidth),
        "hiss": uni(st.hiss),
        "swell": st.swell,
        "levels": {
            "drums": float(rng.uniform(0.6, 1.0)),
            "bass": float(rng.uniform(0.5, 0.9)),
            "chords": float(rng.uniform(0.35, 0.7)),
            "lead": float(rng.uniform(0.3, 0.6)),
        },
        "brightness": float(rng.uniform(0.25, 0.75)),
        "borrowed": None,
    }
    # Real genres overlap: now and then one trait comes from a neighbouring style.
    if st.neighbours and rng.random() < 0.3:
        other = STYLES[pick(st.neighbours)]
        trait = pick(("drums", "chord_inst", "tempo", "bandwidth"))
        if trait == "drums" and other.drums != ({},) and st.drums != ({},):
            p["drums"] = dict(pick(other.drums))
        elif trait == "chord_inst":
            p["chord_inst"] = pick(other.chord_inst)
        elif trait == "tempo":
            lo, hi = st.tempo
            olo, ohi = other.tempo
            p["tempo"] = round(float(np.clip(uni(other.tempo), min(lo, olo), max(hi, ohi))), 1)
        else:
            p["bandwidth"] = uni(other.bandwidth)
        p["borrowed"] = {"style": [k for k, v in STYLES.items() if v is other][0], "trait": trait}
    return p


# --------------------------------------------------------------------------- instruments


def _table(amps: np.ndarray, size: int = 2048) -> np.ndarray:
    """One period of a wavetable with harmonic amplitudes ``amps`` (k = 1..K)."""
    spec = np.zeros(size // 2 + 1, dtype=np.complex128)
    spec[1 : len(amps) + 1] = -0.5j * size * amps  # irfft of this is sum_k a_k sin(2 pi k x)
    return np.fft.irfft(spec, n=size)


def _osc(table: np.ndarray, f: float, n: int, vibrato: float = 0.0, rate: float = 5.0) -> np.ndarray:
    t = np.arange(n) / _SR
    phase = f * t
    if vibrato:
        phase = phase + vibrato * f / (2 * np.pi * rate) * np.sin(2 * np.pi * rate * t)
    idx = ((phase % 1.0) * len(table)).astype(np.intp) % len(table)
    return table[idx]


def _harmonics(kind: str, f: float, bright: float) -> np.ndarray:
    """Harmonic amplitudes of a timbre, cut below Nyquist (band-limited)."""
    kmax = max(1, min(24, int(0.45 * _SR / max(f, 1.0))))
    k = np.arange(1, kmax + 1, dtype=np.float64)
    if kind == "saw":
        a = 1.0 / k * bright ** ((k - 1) / 6)
    elif kind == "square":
        a = np.where(k % 2 == 1, 1.0 / k, 0.0) * bright ** ((k - 1) / 8)
    elif kind == "organ":
        a = np.isin(k, (1, 2, 3, 4, 6, 8)) / np.sqrt(k)
    elif kind == "soft":
        a = 1.0 / k**2
    else:  # "pluck": string plucked near one end
        a = np.abs(np.sin(np.pi * k * 0.18)) / k * bright ** ((k - 1) / 4)
    return a / max(np.abs(a).sum(), 1e-9)


class _Voices:
    """Renders notes for one track; caches identical notes (a progression repeats)."""

    def __init__(self, rng: np.random.Generator, bright: float) -> None:
        self.rng = rng
        self.bright = bright
        self.cache: dict[tuple[Any, ...], np.ndarray] = {}

    def note(self, inst: str, midi: int, n: int) -> np.ndarray:
        key = (inst, midi, n)
        if key not in self.cache:
            self.cache[key] = self._render(inst, float(_midi_hz(midi)), n)
        return self.cache[key]

    def _render(self, inst: str, f: float, n: int) -> np.ndarray:
        t = np.arange(n) / _SR
        b = self.bright
        rel = np.minimum(1.0, (n - np.arange(n)) / (0.01 * _SR))  # 10 ms release, no clicks
        if inst in ("pluck", "piano"):
            decay = 1.2 if inst == "piano" else 0.7
            hi = _osc(_table(_harmonics("pluck", f, min(1.0, b + 0.3))), f, n)
            lo = _osc(_table(_harmonics("soft", f, b)), f, n)
            # a string's upper modes die first (the modal picture of Karplus-Strong)
            x = hi * np.exp(-t / (0.08 + 0.1 * b)) + lo * np.exp(-t / decay)
            return x * np.minimum(1.0, t / 0.002) * rel
        if inst == "epiano":  # FM: carrier:modulator 1:1, decaying index
            index = 1.5 * b * np.exp(-t / 0.4) + 0.2
            x = np.sin(2 * np.pi * f * t + index * np.sin(2 * np.pi * f * t))
            return x * np.exp(-t / 1.0) * np.minimum(1.0, t / 0.003) * rel
        if inst == "brass":  # FM with index following the envelope
            env = np.minimum(1.0, t / 0.05) * np.exp(-t / 1.5)
            x = np.sin(2 * np.pi * f * t + 2.5 * env * np.sin(2 * np.pi * f * t))
            return x * env * rel
        if inst in ("pad", "strings", "violin", "fiddle"):
            attack = {"pad": 0.25, "strings": 0.08, "violin": 0.12, "fiddle": 0.03}[inst]
            vib = {"pad": 0.002, "strings": 0.003, "violin": 0.006, "fiddle": 0.005}[inst]
            tab = _table(_harmonics("saw", f, b))
            x = 0.5 * (_osc(tab, f * 1.003, n, vib) + _osc(tab, f * 0.997, n, vib, 5.7))
            return x * np.minimum(1.0, t / attack) * rel
        if inst == "flute":
            x = _osc(_table(_harmonics("soft", f, b)), f, n, 0.004)
            x = x + 0.05 * self.rng.standard_normal(n) * np.exp(-t / 0.1)
            return x * np.minimum(1.0, t / 0.05) * rel
        if inst == "organ":
            return _osc(_table(_harmonics("organ", f, b)), f, n) * np.minimum(1.0, t / 0.005) * rel
        if inst == "square":
            x = _osc(_table(_harmonics("square", f, b)), f, n, 0.003)
            return x * np.minimum(1.0, t / 0.005) * np.exp(-t / 2.0) * rel
        if inst in ("power", "distlead"):  # saw root + fifth + octave; distorted later
            tab = _table(_harmonics("saw", f, 1.0))
            x = _osc(tab, f, n) + (0.7 * _osc(tab, f * 1.4983, n) if inst == "power" else 0.0)
            return x * np.minimum(1.0, t / 0.003) * np.exp(-t / 3.0) * rel
        if inst == "808":
            fp = f * (1.0 + 1.5 * np.exp(-t / 0.03))
            x = np.sin(2 * np.pi * np.cumsum(fp) / _SR)
            return x * np.exp(-t / 0.8) * rel
        # bass guitar / synth bass
        tab = _table(_harmonics("pluck" if inst == "bass" else "saw", f, 0.5 * b))
        return _osc(tab, f, n) * np.exp(-t / 0.6) * np.minimum(1.0, t / 0.004) * rel


def _drum_kit(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One-shot drum samples with per-track random tuning."""

    def t_of(sec: float) -> np.ndarray:
        return np.arange(int(sec * _SR)) / _SR

    def noise(n: int) -> np.ndarray:
        return rng.standard_normal(n)

    kit: dict[str, np.ndarray] = {}
    t = t_of(0.35)
    f0, f1 = rng.uniform(120, 180), rng.uniform(42, 60)
    fk = f1 + (f0 - f1) * np.exp(-t / 0.04)
    kit["kick"] = np.sin(2 * np.pi * np.cumsum(fk) / _SR) * np.exp(-t / rng.uniform(0.12, 0.25))
    t = t_of(0.25)
    tone = np.sin(2 * np.pi * rng.uniform(160, 220) * t) * np.exp(-t / 0.05)
    kit["snare"] = 0.6 * tone + 0.7 * np.diff(noise(len(t) + 1)) * np.exp(-t / rng.uniform(0.07, 0.15))
    t = t_of(0.08)
    kit["hat"] = 0.35 * np.diff(noise(len(t) + 2), 2) * np.exp(-t / 0.02)
    t = t_of(0.4)
    kit["openhat"] = 0.3 * np.diff(noise(len(t) + 2), 2) * np.exp(-t / 0.15)
    t = t_of(1.0)
    ratios = np.array([1.0, 1.483, 1.932, 2.546, 2.630, 3.897])
    base = rng.uniform(2800, 3600)
    metal = np.sin(2 * np.pi * base * ratios[:, None] * t[None, :]).sum(axis=0) / len(ratios)
    kit["ride"] = (0.25 * metal + 0.1 * np.diff(noise(len(t) + 1))) * np.exp(-t / 0.5)
    t = t_of(1.2)
    kit["crash"] = 0.45 * np.diff(noise(len(t) + 1)) * np.exp(-t / 0.6)
    t = t_of(0.2)
    kit["brush"] = 0.12 * noise(len(t)) * np.sin(np.pi * np.minimum(1.0, t / 0.2)) ** 2
    return kit


# --------------------------------------------------------------------------- arrangement


def _step_times(tempo: float, swing: float, n_bars: int) -> np.ndarray:
    """Start sample of every 16th step of ``n_bars`` bars, off-beat 8ths delayed by swing."""
    beat = 60.0 / tempo
    steps = np.arange(n_bars * _STEPS)
    beats, sub = steps // 4, steps % 4
    frac = np.select([sub == 0, sub == 1, sub == 2, sub == 3],
                     [0.0, swing / 2, swing, swing + (1 - swing) / 2])
    return np.round((beats + frac) * beat * _SR).astype(np.int64)


def _place(buf: np.ndarray, x: np.ndarray, start: int, gain: float) -> None:
    if start >= len(buf) or start < 0:
        return
    m = min(len(x), len(buf) - start)
    buf[start : start + m] += gain * x[:m]


def _hits(pattern: str) -> list[tuple[int, float]]:
    return [(i, 1.0 if c == "x" else 0.45) for i, c in enumerate(pattern) if c in "xo"]


def _fft_filter(x: np.ndarray, cutoff: float, tilt: float) -> np.ndarray:
    """Low-pass at ``cutoff`` Hz (4th-order magnitude) with a spectral tilt (dB/octave)."""
    size = _fast_len(len(x))
    spec = np.fft.rfft(x, n=size)
    f = np.fft.rfftfreq(size, 1.0 / _SR)
    gain = 1.0 / np.sqrt(1.0 + (f / cutoff) ** 8)
    gain *= (np.maximum(f, 50.0) / 1000.0) ** (tilt / 6.02)
    return np.fft.irfft(spec * gain, n=size)[: len(x)]


def _fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (a fast FFT size)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35 * (1 << max(0, (n - 1) // p35).bit_length())
            best = min(best, m) if m >= n else best
            p35 *= 3
        p5 *= 5
    return best


def synthesize(genre: str, *, seconds: float = 30.0, index: int = 0, seed: int = 0) -> np.ndarray:
    """Render one synthetic track (not real music; see the module docstring).

    Parameters
    ----------
    genre : str
        A style named after a GTZAN genre (:data:`genrekit.constants.GENRES`).
    seconds : float
        Length in seconds (> 0).
    index : int
        Track number within the style; with ``seed`` it fixes every random choice.
    seed : int
        Dataset seed.

    Returns
    -------
    np.ndarray [shape=(round(seconds * 22050),), dtype=float32]
        Mono audio at 22050 Hz, peak below 1 (no clipping).
    """
    if not seconds > 0:
        raise ParameterError(f"seconds must be positive, got {seconds}")
    p = track_params(genre, index=index, seed=seed)
    rng = np.random.default_rng([int(seed), GENRES.index(genre), int(index), 1])
    n = int(round(seconds * _SR))
    bar_sec = 240.0 / p["tempo"]
    n_bars = int(np.ceil(seconds / bar_sec)) + 1
    times = _step_times(p["tempo"], p["swing"], n_bars)
    step_n = int(round(60.0 / p["tempo"] / 4 * _SR))
    voices = _Voices(rng, p["brightness"])
    size = n + _SR  # room for tails
    drums, bass, chords, lead = (np.zeros(size) for _ in range(4))

    # drums
    kit = _drum_kit(rng)
    for inst, pattern in p["drums"].items():
        for step, vel in _hits(pattern):
            for bar in range(n_bars):
                if inst == "crash" and bar % 4:
                    continue
                v = vel * rng.uniform(0.8, 1.0)
                _place(drums, kit[inst], int(times[bar * _STEPS + step]), v)

    # harmony
    prog = p["progression"]
    key = p["key"]
    for bar in range(n_bars):
        root, quality = prog[bar % len(prog)]
        chord = [key + 12 + root + iv for iv in _QUALITIES[quality]]
        if p["chord_inst"] not in ("power",):
            chord = [m + 12 if m < key + 17 else m for m in chord]  # mid-register voicing
        hits = _hits(p["chord_rhythm"])
        for j, (step, vel) in enumerate(hits):
            nxt = hits[j + 1][0] if j + 1 < len(hits) else _STEPS
            dur = (nxt - step) * step_n
            if p["chord_inst"] == "power" or p["chord_rhythm"].startswith("..x"):
                dur = min(dur, 2 * step_n)  # chugs and skanks are short
            start = int(times[bar * _STEPS + step])
            if p["chord_inst"] == "power":
                _place(chords, voices.note("power", key + 12 + root, dur), start, vel)
                continue
            for m in chord:
                _place(chords, voices.note(p["chord_inst"], m, dur), start, vel / len(chord))
        # bass
        bhits = _hits(p["bass_rhythm"])
        walk = [0, 4, 7, 9] if quality in ("maj", "maj7", "maj9", "7", "9") else [0, 3, 7, 10]
        for j, (step, vel) in enumerate(bhits):
            nxt = bhits[j + 1][0] if j + 1 < len(bhits) else _STEPS
            dur = (nxt - step) * step_n
            m = key + root
            style = p["bass"]
            if style == "walking":
                m += walk[j % 4] + (1 if j == 3 and rng.random() < 0.3 else 0)
            elif style == "rootfifth" and j % 2:
                m += 7
            elif style == "octave" and j % 2:
                m += 12
            elif style == "reggae":
                m += (0, 7, 12, 10)[j % 4]
            inst = "808" if style == "808" else ("synthbass" if style == "octave" else "bass")
            _place(bass, voices.note(inst, m, dur), int(times[bar * _STEPS + step]), vel)

    # melody: a random walk on the style's scale
    if p["lead"] != "none" and p["lead_density"] > 0:
        scale = np.array(p["scale"])
        pos = int(rng.integers(len(scale)))
        octave = key + 24 + (12 if p["lead"] in ("flute", "violin", "square") else 0)
        step = 0
        total = n_bars * _STEPS
        while step < total:
            length = int(rng.choice([2, 2, 4, 4, 6, 8]))
            if rng.random() < p["lead_density"]:
                pos += int(rng.choice([-2, -1, -1, 1, 1, 2]))
                degree = scale[pos % len(scale)] + 12 * (pos // len(scale))
                m = int(np.clip(octave + degree, key + 12, key + 48))
                _place(lead, voices.note(p["lead"], m, length * step_n), int(times[step]), 1.0)
            step += length

    # buses: distortion on guitars, bandwidth, mix
    lv = p["levels"]
    if p["drive"] > 0:
        d = p["drive"]
        chords = np.tanh(d * chords) / np.tanh(d) if d > 0.5 else chords + 0.3 * d * np.tanh(3 * chords)
        if p["lead"] in ("distlead", "pluck") and d > 0.5:
            lead = np.tanh(d * lead) / np.tanh(d)
    mix = (
        lv["drums"] * drums / max(1e-9, np.abs(drums).max(initial=0) or 1.0)
        + lv["bass"] * bass / max(1e-9, np.abs(bass).max(initial=0) or 1.0)
        + lv["chords"] * chords / max(1e-9, np.abs(chords).max(initial=0) or 1.0)
        + lv["lead"] * lead / max(1e-9, np.abs(lead).max(initial=0) or 1.0)
    )[:n]
    if p["swell"]:  # classical dynamics: slow crescendi and diminuendi
        t = np.arange(n) / _SR
        mix *= 0.35 + 0.65 * np.sin(np.pi * (t / rng.uniform(6, 12) + rng.random())) ** 2
    mix = mix + p["hiss"] * rng.standard_normal(n)
    mix = _fft_filter(mix, p["bandwidth"], tilt=(p["brightness"] - 0.5) * 2.0)
    # gentle bus compression for everything but classical, then a per-track level
    if not p["swell"]:
        peak = np.abs(mix).max(initial=0) or 1.0
        mix = np.tanh(1.5 * mix / peak)
    peak = np.abs(mix).max(initial=0) or 1.0
    level = rng.uniform(0.5, 0.95)
    return np.asarray(mix * (level / peak), dtype=np.float32)


# --------------------------------------------------------------------------- files


def _wav_bytes(y: np.ndarray) -> bytes:
    pcm = np.clip(np.round(y.astype(np.float64) * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(_SR)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


_README = """SYNTHETIC DEMO DATA - NOT REAL MUSIC, NOT GTZAN

These {n} files were generated procedurally by genrekit {version} (genrekit.synth),
seed {seed}, {per_genre} tracks per style, {seconds:g} s each, 22050 Hz mono 16-bit WAV.
The folder names are GTZAN's genre names so that every genrekit command treats this
folder like a GTZAN copy; the music is made of simple synthesized drums, bass, chords and
melodies whose tempo, rhythm, harmony and timbre follow each style's conventions.

Use it to try genrekit end to end and for tests. Accuracies measured on it say nothing
about real genre classification. Regenerate it with:

    genrekit synth -o {out} --per-genre {per_genre} --seconds {seconds:g} --seed {seed}
"""


def write_dataset(
    out_dir: str | os.PathLike[str],
    *,
    per_genre: int = 10,
    seconds: float = 30.0,
    seed: int = 0,
    genres: tuple[str, ...] = GENRES,
    progress: bool | Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write a synthetic dataset in GTZAN layout: ``OUT/<genre>/<genre>.000NN.wav``.

    Parameters
    ----------
    out_dir : path
        Output folder (created). Existing files of the same names are replaced (they are
        regenerated bit for bit from the same arguments); ``OUT/README.txt`` says the data is
        synthetic.
    per_genre : int
        Tracks per style (>= 1).
    seconds : float
        Length of every track (> 0).
    seed : int
        Dataset seed (>= 0). Track ``i`` of a style is the same for any ``per_genre``.
    genres : tuple of str
        Styles to write (default: all ten).
    progress : bool or callable, optional
        ``progress(done, total)`` is called after every file; True shows a progress bar on
        stderr; None (default) shows one when stderr is a terminal.

    Returns
    -------
    list of Path
        The files written, style by style.
    """
    if per_genre < 1:
        raise ParameterError(f"per_genre must be >= 1, got {per_genre}")
    if not seconds > 0:
        raise ParameterError(f"seconds must be positive, got {seconds}")
    if seed < 0:
        raise ParameterError(f"seed must be >= 0, got {seed}")
    unknown = [g for g in genres if g not in STYLES]
    if unknown:
        raise ParameterError(f"unknown styles {unknown}; expected some of {', '.join(GENRES)}")
    from genrekit._version import __version__

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    total = per_genre * len(genres)
    bar = None
    if progress is None:
        progress = sys.stderr.isatty()
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="track", desc="synth", file=sys.stderr, leave=False)

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

    try:
        _write_all(out, genres, per_genre, seconds, seed, paths, total,
                   progress if callable(progress) else None)
    finally:
        if bar is not None:
            bar.close()
    readme = _README.format(
        n=total, version=__version__, seed=seed, per_genre=per_genre, seconds=seconds, out=out
    )
    atomic_write_text(out / "README.txt", readme)
    return paths


def _write_all(out: Path, genres: tuple[str, ...], per_genre: int, seconds: float, seed: int,
               paths: list[Path], total: int,
               progress: Callable[[int, int], None] | None) -> None:
    for genre in genres:
        (out / genre).mkdir(exist_ok=True)
        for i in range(per_genre):
            path = out / genre / f"{genre}.{i:05d}.wav"
            data = _wav_bytes(synthesize(genre, seconds=seconds, index=i, seed=seed))
            atomic_write(path, partial(Path.write_bytes, data=data))
            paths.append(path)
            if progress is not None:
                progress(len(paths), total)
