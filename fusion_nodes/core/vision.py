# Copyright 2026 fusion_nodes maintainers
# SPDX-License-Identifier: Apache-2.0
"""Camera detection and appearance features (OpenCV), independent of ROS.

Detection by colour/contour segmentation: road and sky are close to uniform
along an image row, so a pixel far from its row's median colour belongs to
an object; the mask is cleaned with morphology and its contours become boxes.
OpenCV's bundled HOG people detector can be added. Each box gets its bearing
and elevation from the intrinsics and appearance features (colour, hue
histogram, shape, gradient statistics).
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import find_objects
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

HUE_BINS = 8
FEATURE_NAMES = ("bearing", "elevation", "width_px", "height_px", "aspect", "fill",
                 "mean_b", "mean_g", "mean_r", "saturation", "grad_mean", "grad_orient_entropy",
                 *(f"hue_{i}" for i in range(HUE_BINS)))
ENCODINGS = {"bgr8": 3, "rgb8": 3, "mono8": 1}


def to_bgr(data: bytes, width: int, height: int, step: int, encoding: str) -> np.ndarray:
    """Raw image bytes to a BGR array; ValueError names what is inconsistent."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported encoding {encoding!r} (supported: {sorted(ENCODINGS)})")
    ch = ENCODINGS[encoding]
    if width <= 0 or height <= 0:
        raise ValueError(f"empty image {width}x{height}")
    if step < width * ch or len(data) != step * height:
        raise ValueError(f"{len(data)} bytes with step {step} do not hold {width}x{height} {encoding}")
    a = np.frombuffer(data, np.uint8).reshape(height, step)[:, : width * ch].reshape(height, width, ch)
    if encoding == "rgb8":
        return a[:, :, ::-1].copy()
    if encoding == "mono8":
        return cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    return a.copy()


def segment(img: np.ndarray, threshold: float = 60.0, min_area: int = 30, max_width: int = 320,
            split: float = 0.0) -> list[tuple]:
    """Boxes ``(x, y, w, h)`` (full-resolution pixels) of regions that stand out
    from their row's median colour.

    Images wider than ``max_width`` are segmented at a reduced size (area
    interpolation) and the boxes scaled back: the background model needs no
    more detail, and it keeps a 640x480 frame within a few milliseconds.

    ``split`` > 0 separates touching objects of different colours: a region is
    then a set of object pixels linked through neighbours (4-connected) whose
    colours, edge-preservingly smoothed, differ by less than ``split`` (sum of
    absolute BGR differences). Without it, objects that touch or overlap in the
    image (a pedestrian in front of a car, poles along the road at range) become
    one box whose centre is none of theirs. The parts of one object that a
    nearer one cuts in two become two boxes.
    """
    scale = min(1.0, max_width / img.shape[1])
    # Explicit size, at least 1 px: a 700x1 image scaled by 0.46 would round its height to 0.
    size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
    small = cv2.resize(img, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else img
    blur = cv2.GaussianBlur(small, (5, 5), 0).astype(np.int16)
    diff = np.abs(blur - np.median(blur, axis=1, keepdims=True)).sum(axis=2)
    mask = (diff > threshold).astype(np.uint8) * 255
    kernel = np.ones((3, 3), np.uint8)
    mask = cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    if split > 0:
        rects = _colour_regions(small, mask > 0, split)
    else:
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        rects = [(cv2.contourArea(c), cv2.boundingRect(c)) for c in contours]
    return [tuple(int(round(v / scale)) for v in rect) for area, rect in rects if area / (scale * scale) >= min_area]


def _colour_regions(img: np.ndarray, mask: np.ndarray, split: float) -> list[tuple]:
    """``(area, (x, y, w, h))`` of the colour-linked regions of the ``mask`` pixels (see :func:`segment`)."""
    # the bilateral filter averages the pixel noise away but not the step between two objects
    smooth = cv2.bilateralFilter(img, 5, 40.0, 3.0).astype(np.int16)
    node = np.full(mask.shape, -1, np.int64)
    node[mask] = np.arange(int(mask.sum()))
    if node.max() < 0:
        return []
    a, b = [], []
    for na, nb, ca, cb in ((node[:, :-1], node[:, 1:], smooth[:, :-1], smooth[:, 1:]),
                           (node[:-1], node[1:], smooth[:-1], smooth[1:])):
        link = (na >= 0) & (nb >= 0) & (np.abs(ca - cb).sum(axis=2) < split)
        a.append(na[link])
        b.append(nb[link])
    a, b = np.concatenate(a), np.concatenate(b)
    n = int(node.max()) + 1
    _, label = connected_components(coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n)), directed=False)
    image = np.zeros(mask.shape, np.int32)
    image[mask] = label + 1
    areas = np.bincount(label)
    return [(int(areas[k]), (box[1].start, box[0].start, box[1].stop - box[1].start, box[0].stop - box[0].start))
            for k, box in enumerate(find_objects(image)) if box is not None]


_HOG = None


def detect_people(img: np.ndarray) -> list[tuple]:
    """OpenCV's default HOG + linear SVM people detector (64x128 windows)."""
    global _HOG
    if _HOG is None:
        _HOG = cv2.HOGDescriptor()
        _HOG.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    if img.shape[0] < 128 or img.shape[1] < 64:
        return []
    boxes, _ = _HOG.detectMultiScale(img, winStride=(8, 8))
    return [tuple(int(v) for v in b) for b in boxes]


def box_centre(box: tuple) -> tuple[float, float]:
    """Centre ``(u, v)`` of box ``(x, y, w, h)`` in the coordinates of ``CameraInfo.K`` (px).

    ``K`` projects onto pixel *centres* at whole numbers (OpenCV's convention): a box of columns
    ``x .. x + w - 1`` spans ``x - 0.5 .. x + w - 0.5``, so its centre is ``x + w / 2 - 0.5``
    (``x + w / 2`` would put every bearing half a pixel to the right, 1.9 mrad at fx = 260: a bias
    the tracker cannot average away). The same holds for boxes scaled back from a reduced image,
    whose ``x``, ``w`` are pixel edges at full resolution.
    """
    x, y, w, h = box
    return x + w / 2.0 - 0.5, y + h / 2.0 - 0.5


def features(img: np.ndarray, box: tuple, K: np.ndarray) -> np.ndarray:
    """:data:`FEATURE_NAMES` of one box; bearing/elevation in rad (left/up positive)."""
    x, y, w, h = box
    patch = img[y:y + h, x:x + w]
    u, v = box_centre(box)
    bearing = -np.arctan2(u - K[0, 2], K[0, 0])
    elevation = -np.arctan2(v - K[1, 2], K[1, 1])
    hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0], None, [HUE_BINS], [0, 180]).ravel()
    hist = hist / max(hist.sum(), 1.0)
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    mag, ang = cv2.cartToPolar(gx, gy)
    o_hist = np.histogram(ang, bins=8, range=(0, 2 * np.pi), weights=mag)[0]
    p = o_hist / max(o_hist.sum(), 1e-9)
    entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum())
    b, g, r = patch.reshape(-1, 3).mean(axis=0)
    fill = float((np.abs(patch.astype(np.int16) - patch.reshape(-1, 3).mean(axis=0)).sum(axis=2) < 60).mean())
    return np.array([bearing, elevation, w, h, h / max(w, 1), fill, b, g, r, hsv[:, :, 1].mean(),
                     mag.mean(), entropy, *hist], dtype=float)
