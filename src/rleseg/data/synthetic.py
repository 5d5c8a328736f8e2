"""Embedded synthetic microscopy: two cell types, touching and overlapping, as images or short videos.

Modelled on the paper's IPSC dataset (classes ``background``, ``ipsc``, ``dfc``, about twice as many
``dfc`` as ``ipsc`` cells), so that the whole pipeline can be tried without downloading anything:

- ``ipsc`` cells are bright, compact and round, with smooth texture, a dark nucleus and a dark edge;
- ``dfc`` cells are larger, elongated and irregular, dimmer, with a granular interior and a bright rim.

Labels are exact per pixel: a cell is the set of pixel centres inside its outline (an ellipse whose
radius is perturbed by low-frequency harmonics); a later cell occludes an earlier one; occluded or
clipped instances keep only their visible pixels, and instances left with too few pixels are dropped
from the labels *and* from the image. The image is rendered from those labels, then degraded with
uneven illumination, background texture, blur and shot/read noise.

Every sample is generated lazily from a seed derived from ``(seed, kind, split, index)``, so sample
``i`` of a split is identical whatever the access order, and the splits never share a sample.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, cast

import numpy as np
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rleseg.atomic import atomic_path
from rleseg.data.sample import Sample

CLASSES: tuple[str, ...] = ("background", "ipsc", "dfc")
IPSC, DFC = 1, 2
SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_NUM_IMAGES = {"train": 48, "val": 12, "test": 12}
DEFAULT_NUM_VIDEOS = {"train": 12, "val": 4, "test": 4}
_SPLIT_CODE = {"train": 0, "val": 1, "test": 2}
_KIND_CODE = {"cells": 0, "cells-video": 1}
_REFERENCE_SIDE = 320.0  # cell sizes and speeds below are in pixels of a 320 x 320 image
_HARMONICS = np.arange(2, 6)  # low-frequency radial perturbation of the outline
_TEXTURE_SIDE = 32  # per-cell periodic texture tile, sampled in the cell's own coordinates

Split = Literal["train", "val", "test"]
Kind = Literal["cells", "cells-video"]


# --------------------------------------------------------------------------------------------------
# Small image helpers
# --------------------------------------------------------------------------------------------------


def gaussian_blur(image: np.ndarray, sigma: float, mode: str = "reflect") -> np.ndarray:
    """Separable Gaussian blur over the first two axes.

    ``image``: ``(H, W)`` or ``(H, W, C)``; returns float32 of the same shape. ``mode`` is a
    ``np.pad`` mode (``"reflect"`` for images, ``"wrap"`` for periodic tiles).
    """
    out = np.asarray(image, dtype=np.float32)
    if sigma <= 0:
        return out.copy()
    radius = max(1, int(np.ceil(3.0 * sigma)))
    taps = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    for axis in (0, 1):
        out = _convolve_axis(out, kernel, axis, mode)
    return out


def _convolve_axis(array: np.ndarray, kernel: np.ndarray, axis: int, mode: str) -> np.ndarray:
    """Correlate ``array`` with a symmetric 1D ``kernel`` along ``axis`` (same size output)."""
    radius = len(kernel) // 2
    pad = [(0, 0)] * array.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(array, pad, mode=mode)  # type: ignore[call-overload]
    n = array.shape[axis]
    out = np.zeros_like(array)
    for i, weight in enumerate(kernel):
        window = [slice(None)] * array.ndim
        window[axis] = slice(i, i + n)
        out += weight * padded[tuple(window)]
    return out


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Smooth random field of unit-ish amplitude with features about ``cell`` pixels across.

    Returns float32 ``(H, W)``: a coarse Gaussian grid upsampled with smoothstep interpolation.
    """
    h, w = shape
    grid = rng.standard_normal((max(2, int(h / cell) + 2), max(2, int(w / cell) + 2))).astype(np.float32)
    return _upsample_smooth(grid, shape)


def _upsample_smooth(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Interpolate ``grid`` ``(gh, gw)`` to ``shape`` ``(H, W)`` with smoothstep weights."""
    rows = _interp_axis(grid, shape[0], axis=0)  # (H, gw)
    return _interp_axis(rows, shape[1], axis=1)  # (H, W)


def _interp_axis(grid: np.ndarray, size: int, axis: int) -> np.ndarray:
    n = grid.shape[axis]
    pos = np.linspace(0.0, n - 1.0, size, dtype=np.float32)
    lo = np.clip(np.floor(pos).astype(np.intp), 0, n - 2)
    t = pos - lo
    t = t * t * (3.0 - 2.0 * t)
    a, b = np.take(grid, lo, axis=axis), np.take(grid, lo + 1, axis=axis)
    t = t[:, None] if axis == 0 else t[None, :]
    return (a * (1.0 - t) + b * t).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# Cells: fixed appearance, per-frame pose, rasterisation
# --------------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """What stays fixed for one instance over its life: identity, class, shape and texture.

    ``amps``/``phases``: ``(K,)`` radial harmonics of the outline; ``nucleus``: ``(2,)`` offset of the
    nucleus in units of the radius (cell coordinates); ``texture``: ``(32, 32)`` periodic float32 tile.
    """

    id: int
    cls: int
    aspect: float
    amps: np.ndarray
    phases: np.ndarray
    brightness: float
    nucleus: np.ndarray
    texture: np.ndarray


@dataclass
class Pose:
    """Where a :class:`Cell` is in one frame: centre ``(y, x)`` in pixels, mean radius, angle (rad) and the
    fraction of its contrast to the background that shows (1: in the focal plane; less: drifted out of it)."""

    cell: Cell
    y: float
    x: float
    radius: float
    angle: float
    contrast: float = 1.0

    def extent(self) -> float:
        """Upper bound of the distance from the centre to the outline, in pixels."""
        return self.radius * np.sqrt(self.cell.aspect) * (1.0 + float(np.abs(self.cell.amps).sum()))


def make_cell(rng: np.random.Generator, cell_id: int, cls: int) -> Cell:
    """Draw the fixed appearance of one ``ipsc`` (``cls=1``) or ``dfc`` (``cls=2``) cell."""
    ipsc = cls == IPSC
    aspect = rng.uniform(1.0, 1.3) if ipsc else rng.uniform(1.5, 2.6)
    scale = 0.035 if ipsc else 0.09
    amps = (rng.standard_normal(len(_HARMONICS)) * scale / np.sqrt(_HARMONICS - 1)).astype(np.float32)
    amps *= min(1.0, 0.5 / (float(np.abs(amps).sum()) + 1e-9))  # keep the outline radius >= 0.5
    phases = rng.uniform(0.0, 2 * np.pi, len(_HARMONICS)).astype(np.float32)
    brightness = rng.uniform(0.85, 1.0) if ipsc else rng.uniform(0.36, 0.46)
    nucleus = rng.uniform(-0.2, 0.2, 2).astype(np.float32)
    texture = gaussian_blur(rng.standard_normal((_TEXTURE_SIDE, _TEXTURE_SIDE)), 2.0 if ipsc else 0.9, "wrap")
    texture = (texture - texture.mean()) / (texture.std() + 1e-6)
    return Cell(cell_id, cls, float(aspect), amps, phases, float(brightness), nucleus, texture)


def draw_radius(rng: np.random.Generator, cls: int, scale: float) -> float:
    """Mean radius in pixels of a new cell of class ``cls`` in an image of ``scale`` x 320 pixels."""
    return float((rng.uniform(11.0, 15.0) if cls == IPSC else rng.uniform(15.0, 21.0)) * scale)


@dataclass
class _Footprint:
    """One cell rasterised in its bounding box: rows ``ys``, cols ``xs`` and per-pixel fields."""

    pose: Pose
    ys: slice
    xs: slice
    inside: np.ndarray  # (h, w) bool
    d: np.ndarray  # (h, w) normalised distance: 0 at the centre, 1 on the outline
    u: np.ndarray  # (h, w) cell coordinates along the major axis, pixels
    v: np.ndarray  # (h, w) and along the minor axis


def _rasterise(pose: Pose, shape: tuple[int, int]) -> _Footprint | None:
    """Which pixel centres of an ``(H, W)`` image lie inside ``pose``'s outline (None if none can)."""
    ext = pose.extent()
    y0, y1 = max(0, int(np.floor(pose.y - ext))), min(shape[0], int(np.ceil(pose.y + ext)) + 1)
    x0, x1 = max(0, int(np.floor(pose.x - ext))), min(shape[1], int(np.ceil(pose.x + ext)) + 1)
    if y0 >= y1 or x0 >= x1:
        return None
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(pose.y)
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(pose.x)
    cos, sin = np.float32(np.cos(pose.angle)), np.float32(np.sin(pose.angle))
    u, v = dx * cos + dy * sin, dy * cos - dx * sin
    a = np.float32(pose.radius * np.sqrt(pose.cell.aspect))
    b = np.float32(pose.radius / np.sqrt(pose.cell.aspect))
    ua, vb = u / a, v / b
    rho = np.sqrt(ua * ua + vb * vb)
    theta = np.arctan2(vb, ua)
    outline = np.ones_like(theta)
    for k, amp, phase in zip(_HARMONICS, pose.cell.amps, pose.cell.phases, strict=True):
        outline += amp * np.cos(k * theta + phase)
    d = rho / outline
    return _Footprint(pose, slice(y0, y1), slice(x0, x1), d < 1.0, d, u, v)


def _cell_intensity(fp: _Footprint) -> np.ndarray:
    """Scene intensity (about 0..1) of the cell over its bounding box, ``(h, w)`` float32."""
    cell, r = fp.pose.cell, np.float32(fp.pose.radius)
    tex = cell.texture[np.floor(fp.v).astype(np.intp) % _TEXTURE_SIDE, np.floor(fp.u).astype(np.intp) % _TEXTURE_SIDE]
    d = np.minimum(fp.d, 1.0)
    if cell.cls == IPSC:
        nu, nv = fp.u / r - cell.nucleus[0], fp.v / r - cell.nucleus[1]
        nucleus = np.exp(-(nu * nu + nv * nv) / (2 * 0.28**2))
        nucleolus = np.exp(-(nu * nu + nv * nv) / (2 * 0.06**2))
        edge = np.clip((d - 1.0) / max(0.18, 2.0 / float(r)) + 1.0, 0.0, 1.0)
        val = cell.brightness * (1.0 - 0.1 * d * d - 0.55 * nucleus - 0.35 * edge) + 0.22 * nucleolus
        return val + 0.025 * tex
    rim = np.exp(-(((1.0 - d) / max(0.09, 1.3 / float(r))) ** 2))  # at least ~1.3 px wide
    granules = np.maximum(tex - 1.0, 0.0)
    return cell.brightness + 0.08 * tex + 0.2 * granules + 0.38 * rim


# --------------------------------------------------------------------------------------------------
# Scenes: background, illumination, rendering of labels and image
# --------------------------------------------------------------------------------------------------


@dataclass
class Scene:
    """Everything about the optics and background of one image or video (fixed over a video).

    ``background`` and ``illumination``: ``(H, W)`` float32; ``blur``: sigma in pixels;
    ``photons``: expected photon count at intensity 1 (shot noise); ``read_noise``: Gaussian std;
    ``tint``: ``(3,)`` RGB gains.
    """

    background: np.ndarray
    illumination: np.ndarray
    blur: float
    photons: float
    read_noise: float
    tint: np.ndarray
    min_fraction: float = 0.12  # instances keeping less than this fraction of their area are dropped


def make_scene(rng: np.random.Generator, shape: tuple[int, int]) -> Scene:
    """Draw background texture, uneven illumination and noise levels for an ``(H, W)`` image."""
    h, w = shape
    side = float(np.sqrt(h * w))
    texture = 0.035 * smooth_noise(rng, shape, side / 5) + 0.02 * smooth_noise(rng, shape, 6.0)
    background = rng.uniform(0.16, 0.22) + texture
    return Scene(
        background=background.astype(np.float32),
        illumination=_illumination(rng, shape),
        blur=float(rng.uniform(0.7, 1.2)),
        photons=float(rng.uniform(60.0, 160.0)),
        read_noise=float(rng.uniform(0.008, 0.02)),
        tint=(1.0 + rng.uniform(-0.04, 0.04, 3)).astype(np.float32),
    )


def _illumination(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Smooth gain ``(H, W)`` around 1: a linear gradient times an off-centre vignette."""
    h, w = shape
    y = (np.arange(h, dtype=np.float32)[:, None] - h / 2) / max(h, w)
    x = (np.arange(w, dtype=np.float32)[None, :] - w / 2) / max(h, w)
    angle = rng.uniform(0.0, 2 * np.pi)
    gradient = 1.0 + rng.uniform(0.15, 0.4) * (y * np.sin(angle) + x * np.cos(angle))
    cy, cx = rng.uniform(-0.2, 0.2, 2)
    vignette = 1.0 - rng.uniform(0.25, 0.5) * ((y - cy) ** 2 + (x - cx) ** 2) * 2.0
    return (gradient * vignette).astype(np.float32)


def render_labels(
    poses: Sequence[Pose], shape: tuple[int, int], min_fraction: float
) -> tuple[np.ndarray, np.ndarray, list[_Footprint]]:
    """Paint ``poses`` in order (later occludes earlier) and drop instances left nearly invisible.

    Returns ``(mask, instances, footprints)``: ``(H, W)`` uint8 class ids, ``(H, W)`` int32 instance ids
    (the cells' own ids) and the rasterised footprints of the instances that were kept.
    """
    instances = np.zeros(shape, dtype=np.int32)
    footprints: list[_Footprint] = []
    for pose in poses:
        fp = _rasterise(pose, shape)
        if fp is not None and fp.inside.any():
            instances[fp.ys, fp.xs][fp.inside] = pose.cell.id
            footprints.append(fp)
    max_id = max((fp.pose.cell.id for fp in footprints), default=0)
    visible = np.bincount(instances.ravel(), minlength=max_id + 1)
    keep = np.zeros(max_id + 1, dtype=bool)
    cls_of = np.zeros(max_id + 1, dtype=np.uint8)
    kept = []
    for fp in footprints:
        area = np.pi * fp.pose.radius**2
        if visible[fp.pose.cell.id] >= max(10.0, min_fraction * area):
            keep[fp.pose.cell.id] = True
            cls_of[fp.pose.cell.id] = fp.pose.cell.cls
            kept.append(fp)
    instances = np.where(keep[instances], instances, 0).astype(np.int32)
    return cls_of[instances], instances, kept


def render_image(
    instances: np.ndarray, footprints: Sequence[_Footprint], scene: Scene, rng: np.random.Generator
) -> np.ndarray:
    """Render the microscope image of labelled cells: ``(H, W)`` int32 ids -> ``(H, W, 3)`` uint8 RGB."""
    scene_img = scene.background.copy()
    for fp in footprints:
        own = instances[fp.ys, fp.xs] == fp.pose.cell.id
        cell = _cell_intensity(fp)[own]
        if fp.pose.contrast != 1.0:
            background = scene.background[fp.ys, fp.xs][own]
            cell = background + np.float32(fp.pose.contrast) * (cell - background)
        scene_img[fp.ys, fp.xs][own] = cell
    signal = gaussian_blur(scene_img * scene.illumination, scene.blur)
    signal = np.clip(signal, 0.0, None)
    noisy = rng.poisson(signal * scene.photons).astype(np.float32) / np.float32(scene.photons)
    noisy += rng.normal(0.0, scene.read_noise, signal.shape).astype(np.float32)
    rgb = np.clip(noisy[..., None] * scene.tint, 0.0, 1.0)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def _render(poses: Sequence[Pose], scene: Scene, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and image of one frame: ``(image (H, W, 3) uint8, mask (H, W) uint8, ids (H, W) int32)``."""
    shape = scene.background.shape
    mask, instances, footprints = render_labels(poses, shape, scene.min_fraction)
    return render_image(instances, footprints, scene, rng), mask, instances


# --------------------------------------------------------------------------------------------------
# Placement of a static population
# --------------------------------------------------------------------------------------------------


def _scale(shape: tuple[int, int]) -> float:
    return float(np.sqrt(shape[0] * shape[1]) / _REFERENCE_SIDE)


def _draw_class(rng: np.random.Generator) -> int:
    """About one ``ipsc`` for two ``dfc``, as in the paper's IPSC dataset."""
    return IPSC if rng.random() < 1.0 / 3.0 else DFC


def place_cells(rng: np.random.Generator, shape: tuple[int, int], num_cells: float, first_id: int = 1) -> list[Pose]:
    """Poses of a random population over an ``(H, W)`` image: ``Poisson(num_cells)`` cells, ids from
    ``first_id`` in drawing order; most cells are placed touching or overlapping an earlier one."""
    scale = _scale(shape)
    poses: list[Pose] = []
    for i in range(max(2, int(rng.poisson(num_cells)))):
        cls = _draw_class(rng)
        cell = make_cell(rng, first_id + i, cls)
        radius = draw_radius(rng, cls, scale)
        pose = Pose(cell, 0.0, 0.0, radius, float(rng.uniform(0.0, np.pi)))
        pose.y, pose.x = _position_near(rng, poses, pose, shape)
        poses.append(pose)
    return poses


def _position_near(
    rng: np.random.Generator, poses: Sequence[Pose], pose: Pose, shape: tuple[int, int]
) -> tuple[float, float]:
    """A centre touching/overlapping an earlier cell (50%) or uniform over the image."""
    if poses and rng.random() < 0.5:
        other = poses[int(rng.integers(len(poses)))]
        reach = (other.radius * np.sqrt(other.cell.aspect) + pose.radius) * rng.uniform(0.7, 1.0)
        angle = rng.uniform(0.0, 2 * np.pi)
        y, x = other.y + reach * np.sin(angle), other.x + reach * np.cos(angle)
        if -pose.radius < y < shape[0] + pose.radius and -pose.radius < x < shape[1] + pose.radius:
            return float(y), float(x)
    margin = 0.3 * pose.radius
    return float(rng.uniform(-margin, shape[0] + margin)), float(rng.uniform(-margin, shape[1] + margin))


# --------------------------------------------------------------------------------------------------
# Video simulation: random walk with momentum, growth, division, entering and leaving
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackEvent:
    """A change in the population, visible from ``frame`` on.

    ``kind``: ``"enter"`` (``ids = (new,)``), ``"leave"`` (``ids = (gone,)``) or ``"divide"``
    (``ids = (parent, daughter_a, daughter_b)``).
    """

    frame: int
    kind: str
    ids: tuple[int, ...]


@dataclass
class _Track:
    pose: Pose
    vy: float
    vx: float
    growth: float
    spin: float


@dataclass(frozen=True)
class MotionParams:
    """Per-frame motion of the video simulation, in pixels of a 320 x 320 image (scaled to the size)."""

    speed: float = 5.0  # typical initial speed
    momentum: float = 0.85  # fraction of the velocity kept from one frame to the next
    jitter: float = 1.6  # std of the random acceleration
    growth: tuple[float, float] = (0.005, 0.03)  # log-radius growth per frame
    divide_prob: float = 0.02  # per cell and frame
    enter_prob: float = 0.3  # per frame: a new cell enters through a border
    split_speed: float = 3.0  # daughters' extra speed apart

    def slowed(self, factor: float) -> MotionParams:
        """These parameters with speed, random acceleration and growth per frame times ``factor`` (0.2: cells
        about as slow as in the paper's IPSC videos, judged by sequence lengths in
        ``benchmarks/bench_video_schemes.py``). ValueError unless ``factor`` > 0."""
        if not factor > 0:
            raise ValueError(f"motion speed factor (data.synthetic_motion, --motion): expected > 0, got {factor!r}")
        lo, hi = self.growth
        return replace(self, speed=self.speed * factor, jitter=self.jitter * factor, growth=(lo * factor, hi * factor))


def simulate_tracks(
    rng: np.random.Generator,
    shape: tuple[int, int],
    num_frames: int,
    num_cells: float,
    motion: MotionParams | None = None,
) -> tuple[list[list[Pose]], list[TrackEvent]]:
    """Simulate a cell population over ``num_frames`` frames of an ``(H, W)`` video.

    Returns per-frame pose lists (drawing order = id order, so newer cells occlude older ones) and the
    enter/leave/divide events. Ids are never reused within a video.
    """
    motion = motion or MotionParams()
    scale = _scale(shape)
    tracks = [_start_track(rng, pose, scale, motion) for pose in place_cells(rng, shape, num_cells)]
    next_id = 1 + max((t.pose.cell.id for t in tracks), default=0)
    frames = [[_copy_pose(t.pose) for t in tracks]]
    events: list[TrackEvent] = []
    for frame in range(1, num_frames):
        survivors: list[_Track] = []
        for track in tracks:
            _step(rng, track, scale, motion)
            if _outside(track.pose, shape):
                events.append(TrackEvent(frame, "leave", (track.pose.cell.id,)))
            elif rng.random() < motion.divide_prob:
                daughters = _divide(rng, track, next_id, scale, motion)
                next_id += 2
                events.append(TrackEvent(frame, "divide", (track.pose.cell.id, next_id - 2, next_id - 1)))
                survivors.extend(daughters)
            else:
                survivors.append(track)
        if rng.random() < motion.enter_prob:
            survivors.append(_enter(rng, next_id, shape, scale, motion))
            events.append(TrackEvent(frame, "enter", (next_id,)))
            next_id += 1
        tracks = sorted(survivors, key=lambda t: t.pose.cell.id)
        frames.append([_copy_pose(t.pose) for t in tracks])
    return frames, events


def _copy_pose(pose: Pose) -> Pose:
    return Pose(pose.cell, pose.y, pose.x, pose.radius, pose.angle)


def _start_track(rng: np.random.Generator, pose: Pose, scale: float, motion: MotionParams) -> _Track:
    heading = rng.uniform(0.0, 2 * np.pi)
    speed = motion.speed * scale * rng.uniform(0.3, 1.2)
    return _Track(
        pose,
        float(speed * np.sin(heading)),
        float(speed * np.cos(heading)),
        float(rng.uniform(*motion.growth)),
        float(rng.normal(0.0, 0.05)),
    )


def _step(rng: np.random.Generator, track: _Track, scale: float, motion: MotionParams) -> None:
    """Advance one frame: damped random-walk velocity, position, growth and rotation."""
    ay, ax = rng.normal(0.0, motion.jitter * scale, 2)
    track.vy = motion.momentum * track.vy + float(ay)
    track.vx = motion.momentum * track.vx + float(ax)
    pose = track.pose
    pose.y += track.vy
    pose.x += track.vx
    pose.radius *= float(np.exp(track.growth))
    pose.angle += track.spin


def _outside(pose: Pose, shape: tuple[int, int]) -> bool:
    ext = pose.extent()
    return pose.y < -ext or pose.x < -ext or pose.y > shape[0] + ext or pose.x > shape[1] + ext


def _divide(rng: np.random.Generator, track: _Track, first_id: int, scale: float, motion: MotionParams) -> list[_Track]:
    """Two daughters of ``track`` (same class, new ids and textures) pushed apart along its major axis."""
    parent = track.pose
    axis_y, axis_x = np.sin(parent.angle), np.cos(parent.angle)
    offset = 0.45 * parent.radius * np.sqrt(parent.cell.aspect)
    daughters = []
    for k, sign in enumerate((1.0, -1.0)):
        cell = make_cell(rng, first_id + k, parent.cell.cls)
        pose = Pose(
            cell,
            parent.y + sign * offset * axis_y,
            parent.x + sign * offset * axis_x,
            parent.radius * 0.78,
            parent.angle + float(rng.normal(0.0, 0.3)),
        )
        push = sign * motion.split_speed * scale
        daughters.append(_Track(pose, track.vy + push * axis_y, track.vx + push * axis_x, track.growth, track.spin))
    return daughters


def _enter(
    rng: np.random.Generator, cell_id: int, shape: tuple[int, int], scale: float, motion: MotionParams
) -> _Track:
    """A new cell just outside a random border, heading inwards."""
    cls = _draw_class(rng)
    cell = make_cell(rng, cell_id, cls)
    radius = draw_radius(rng, cls, scale)
    side = int(rng.integers(4))
    along = float(rng.uniform(0.1, 0.9))
    depth = -0.3 * radius
    h, w = shape
    y, x = [(depth, along * w), (h - depth, along * w), (along * h, depth), (along * h, w - depth)][side]
    inward = [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)][side]
    speed = motion.speed * scale * rng.uniform(0.7, 1.2)
    pose = Pose(cell, y, x, radius, float(rng.uniform(0.0, np.pi)))
    return _Track(
        pose,
        inward[0] * speed,
        inward[1] * speed,
        float(rng.uniform(*motion.growth)),
        float(rng.normal(0, 0.05)),
    )


# --------------------------------------------------------------------------------------------------
# Public dataset API
# --------------------------------------------------------------------------------------------------


def _as_shape(size: int | tuple[int, int]) -> tuple[int, int]:
    shape = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if min(shape) < 8:
        raise ValueError(f"synthetic images must be at least 8 x 8 pixels, got {shape}")
    return shape


def _check_split(split: str) -> None:
    if split not in _SPLIT_CODE:
        raise ValueError(f"unknown split {split!r}; expected one of {list(SPLITS)}")


def sample_seed(seed: int, kind: Kind, split: str, index: int) -> np.random.SeedSequence:
    """The seed sequence of sample ``index`` of ``split``: independent of access order and of the
    other splits' sizes."""
    return np.random.SeedSequence([int(seed), _KIND_CODE[kind], _SPLIT_CODE[split], int(index)])


def _resolve_index(index: int, length: int) -> int:
    if not -length <= index < length:
        raise IndexError(f"index {index} out of range for {length} samples")
    return index % length


class SyntheticCells:
    """Static synthetic microscopy images (a :class:`~rleseg.data.sample.SegmentationSource`).

    ``dataset[i]`` is a :class:`Sample` with ``image (H, W, 3)`` uint8, ``mask (H, W)`` uint8 class ids
    (0 background, 1 ``ipsc``, 2 ``dfc``) and ``instances (H, W)`` int32 ids (1..n, 0 = none), generated
    on access from ``(seed, split, i)``.
    """

    classes: Sequence[str] = list(CLASSES)

    def __init__(
        self,
        split: Split = "train",
        num_images: int | None = None,
        size: int | tuple[int, int] = 320,
        seed: int = 0,
        num_cells: float = 22.0,
    ) -> None:
        _check_split(split)
        self.split = split
        self.num_images = DEFAULT_NUM_IMAGES[split] if num_images is None else int(num_images)
        self.shape = _as_shape(size)
        self.seed = int(seed)
        self.num_cells = float(num_cells)
        self.classes = list(CLASSES)

    def __len__(self) -> int:
        return self.num_images

    def __getitem__(self, index: int) -> Sample:
        """Image ``index`` of this split: ``(H, W, 3)`` uint8 with ``(H, W)`` mask and instances."""
        index = _resolve_index(index, len(self))
        layout_seq, scene_seq, noise_seq = sample_seed(self.seed, "cells", self.split, index).spawn(3)
        poses = place_cells(np.random.default_rng(layout_seq), self.shape, self.num_cells)
        scene = make_scene(np.random.default_rng(scene_seq), self.shape)
        image, mask, instances = _render(poses, scene, np.random.default_rng(noise_seq))
        return Sample(image, mask, _relabel(instances), f"image_{index:03d}")

    def __iter__(self) -> Iterator[Sample]:
        return (self[i] for i in range(len(self)))


def _relabel(instances: np.ndarray) -> np.ndarray:
    """Renumber the ids present in ``instances`` to 1..n keeping their order (same shape, int32)."""
    ids = np.unique(instances)
    ids = ids[ids != 0]
    lut = np.zeros(int(instances.max(initial=0)) + 1, dtype=np.int32)
    lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lut[instances]


class SyntheticCellVideos:
    """Synthetic microscopy clips (a :class:`~rleseg.data.sample.SegmentationSource` of videos).

    ``dataset[i]`` is a :class:`Sample` with ``image (T, H, W, 3)`` uint8, ``mask (T, H, W)`` uint8 and
    ``instances (T, H, W)`` int32. Cells move, grow, divide (the parent's id ends, two new ids begin),
    enter and leave through the borders; an id always means the same cell and never changes class.
    ``defocus``: probability that a cell, in one frame, has drifted out of the focal plane and shows only
    20-45% of its contrast to the background (each cell and frame drawn alone; the labels keep it). 0: never
    (the videos are then exactly those without the option).
    """

    classes: Sequence[str] = list(CLASSES)

    def __init__(
        self,
        split: Split = "train",
        num_videos: int | None = None,
        num_frames: int = 8,
        size: int | tuple[int, int] = 160,
        seed: int = 0,
        num_cells: float = 14.0,
        motion: MotionParams | None = None,
        defocus: float = 0.0,
    ) -> None:
        _check_split(split)
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if not 0.0 <= defocus < 1.0:
            raise ValueError(
                f"defocus probability (data.synthetic_defocus, --defocus): expected 0 <= p < 1, got {defocus!r}"
            )
        self.split = split
        self.num_videos = DEFAULT_NUM_VIDEOS[split] if num_videos is None else int(num_videos)
        self.num_frames = int(num_frames)
        self.shape = _as_shape(size)
        self.seed = int(seed)
        self.num_cells = float(num_cells)
        self.motion = motion or MotionParams()
        self.defocus = float(defocus)
        self.classes = list(CLASSES)

    def __len__(self) -> int:
        return self.num_videos

    def _simulate(self, index: int) -> tuple[list[list[Pose]], list[TrackEvent], np.random.SeedSequence]:
        sim_seq, render_seq = sample_seed(self.seed, "cells-video", self.split, index).spawn(2)
        frames, events = simulate_tracks(
            np.random.default_rng(sim_seq), self.shape, self.num_frames, self.num_cells, self.motion
        )
        return frames, events, render_seq

    def events(self, index: int) -> list[TrackEvent]:
        """The enter/leave/divide events of video ``index`` (cheap: no rendering)."""
        return self._simulate(_resolve_index(index, len(self)))[1]

    def __getitem__(self, index: int) -> Sample:
        """Video ``index``: ``(T, H, W, 3)`` uint8 with ``(T, H, W)`` mask and instance ids."""
        index = _resolve_index(index, len(self))
        frames, _, render_seq = self._simulate(index)
        scene_seq, *noise_seqs = render_seq.spawn(1 + self.num_frames)
        scene = make_scene(np.random.default_rng(scene_seq), self.shape)
        if self.defocus > 0:  # a stream of its own: the cells, scene and noise stay those of defocus 0
            frames = _defocus(np.random.default_rng(render_seq.spawn(1)[0]), frames, self.defocus)
        rendered = [
            _render(poses, scene, np.random.default_rng(seq)) for poses, seq in zip(frames, noise_seqs, strict=True)
        ]
        images, masks, instances = (np.stack(parts) for parts in zip(*rendered, strict=True))
        return Sample(images, masks, instances, f"video_{index:03d}")

    def __iter__(self) -> Iterator[Sample]:
        return (self[i] for i in range(len(self)))


def _defocus(rng: np.random.Generator, frames: list[list[Pose]], probability: float) -> list[list[Pose]]:
    """``frames`` with each pose, with ``probability``, out of the focal plane (contrast 0.2-0.45)."""
    return [
        [replace(p, contrast=float(rng.uniform(0.2, 0.45))) if rng.random() < probability else p for p in poses]
        for poses in frames
    ]


# --------------------------------------------------------------------------------------------------
# Writing the folder layout
# --------------------------------------------------------------------------------------------------


def write_synthetic(
    kind: Kind,
    out_dir: str | os.PathLike[str],
    *,
    splits: Sequence[str] = SPLITS,
    num_samples: dict[str, int] | int | None = None,
    size: int | tuple[int, int] | None = None,
    num_frames: int = 8,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    motion: float = 1.0,
    defocus: float = 0.0,
) -> Path:
    """Write a synthetic dataset to disk in the folder layout and return ``out_dir``.

    Layout per split (``out_dir/train`` ...): ``images/<name>.png`` RGB, ``masks/<name>.png`` uint8 class
    ids, ``instances/<name>.png`` 16-bit instance ids, ``classes.txt`` (background first). For
    ``kind="cells-video"`` every video is a sub-folder of its split in that same layout (with its own
    ``classes.txt``), frames named ``0000.png``, ``0001.png`` ... ``num_samples``: per split (dict), the
    same for every split (int), or the defaults. Raises ValueError if ``out_dir`` is not empty and
    ``overwrite`` is False; with ``overwrite=True`` the split folders being written are replaced. ``motion``:
    speed factor of the video cells (:meth:`MotionParams.slowed`); ``defocus``: probability that a video cell
    is out of the focal plane in a frame (:class:`SyntheticCellVideos`).
    """
    if kind not in _KIND_CODE:
        raise ValueError(f"unknown synthetic kind {kind!r}; expected 'cells' or 'cells-video'")
    root = Path(out_dir)
    params = MotionParams().slowed(motion)
    sources = {  # bad settings are refused here, before anything is written
        split: _make_source(kind, split, num_samples, size, num_frames, seed, params, defocus) for split in splits
    }
    _prepare_root(root, splits, overwrite)
    total = sum(len(src) for src in sources.values())
    with _progress(progress and total > 8) as bar:
        task = bar.add_task(f"writing {kind} to {root}", total=total)
        for split, source in sources.items():
            split_dir = root / split
            _write_classes(split_dir, source.classes)
            for sample in source:
                if sample.is_video:
                    _write_video(split_dir / sample.name, sample, source.classes)
                else:
                    _write_frame(split_dir, sample.name, sample.image, sample.mask, sample.instances)
                bar.advance(task)
    return root


def _prepare_root(root: Path, splits: Sequence[str], overwrite: bool) -> None:
    for split in splits:
        _check_split(split)
    if root.exists() and not root.is_dir():
        raise ValueError(f"cannot write a synthetic dataset to {root}: it exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        if not overwrite:
            raise ValueError(
                f"refusing to write into non-empty folder {root}; pass overwrite=True to replace its splits"
            )
        for split in splits:
            if (root / split).is_dir():
                shutil.rmtree(root / split)
    root.mkdir(parents=True, exist_ok=True)


def _make_source(
    kind: Kind,
    split: str,
    num_samples: dict[str, int] | int | None,
    size: int | tuple[int, int] | None,
    num_frames: int,
    seed: int,
    motion: MotionParams,
    defocus: float = 0.0,
) -> SyntheticCells | SyntheticCellVideos:
    count = num_samples.get(split) if isinstance(num_samples, dict) else num_samples
    name = cast(Split, split)
    if kind == "cells":
        return SyntheticCells(name, count, 320 if size is None else size, seed)
    side = 160 if size is None else size
    return SyntheticCellVideos(name, count, num_frames, side, seed, motion=motion, defocus=defocus)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )


def _write_classes(folder: Path, classes: Sequence[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(folder / "classes.txt", ("\n".join(classes) + "\n").encode())


def _write_video(folder: Path, sample: Sample, classes: Sequence[str]) -> None:
    """One video as a folder dataset: ``folder/{images,masks,instances}/<frame:04d>.png``."""
    _write_classes(folder, classes)
    assert sample.instances is not None
    for t in range(sample.image.shape[0]):
        _write_frame(folder, f"{t:04d}", sample.image[t], sample.mask[t], sample.instances[t])


def _write_frame(folder: Path, name: str, image: np.ndarray, mask: np.ndarray, instances: np.ndarray | None) -> None:
    """Write ``(H, W, 3)`` RGB, ``(H, W)`` uint8 mask and ``(H, W)`` 16-bit instances as PNGs."""
    _atomic_save_png(folder / "images" / f"{name}.png", Image.fromarray(np.ascontiguousarray(image)))
    _atomic_save_png(folder / "masks" / f"{name}.png", Image.fromarray(mask.astype(np.uint8)))
    if instances is not None:
        if instances.size and int(instances.max()) > np.iinfo(np.uint16).max:
            raise ValueError(f"{folder}/{name}: instance id {int(instances.max())} does not fit 16 bits")
        _atomic_save_png(folder / "instances" / f"{name}.png", Image.fromarray(instances.astype(np.uint16)))


def _atomic_save_png(path: Path, image: Image.Image) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
