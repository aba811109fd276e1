#!/usr/bin/env python3
"""Regenerate app/data/europe_map.json, the outlines the progress map is drawn from, offline.

The source is Natural Earth's 1:50m Admin 0 countries (public domain) as the npm package world-atlas 2.0.2 ships
them (TopoJSON, ISC licence):

    cd "$(mktemp -d)" && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    .venv/bin/python scripts/europe_map.py THAT_DIR/package/countries-50m.json

Steps: decode the TopoJSON arcs; project them with the Lambert azimuthal equal-area projection centred on 52°N 10°E
(the centre of EPSG:3035, the projection of Eurostat's maps; on a sphere, which is plenty at this size); simplify
every arc once, so that two neighbours keep one shared border; assemble each country's rings; clip them to a frame
around the member states; write integer SVG path data. Plain Python, no third-party package.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "app" / "data" / "europe_map.json"

# ISO 3166-1 numeric (world-atlas ids) -> the alpha-2 codes of app/eci/data/member_states.csv
MEMBER_STATES = {
    "040": "AT", "056": "BE", "100": "BG", "191": "HR", "196": "CY", "203": "CZ", "208": "DK", "233": "EE",
    "246": "FI", "250": "FR", "276": "DE", "300": "GR", "348": "HU", "372": "IE", "380": "IT", "428": "LV",
    "440": "LT", "442": "LU", "470": "MT", "528": "NL", "616": "PL", "620": "PT", "642": "RO", "703": "SK",
    "705": "SI", "724": "ES", "752": "SE",
}  # fmt: skip

# Natural Earth draws two parts of member states as units of their own. The north of Cyprus: the member state is the
# whole island (Protocol No 10 to the 2003 Act of Accession suspends the acquis there, it does not take the area out
# of the Union), as on the EU's own maps. Åland: part of Finland (Protocol No 2 to the 1994 Act of Accession). Their
# shapes are merged into the state's, the border between them dissolved.
MERGED_INTO = {"N. Cyprus": "CY", "Åland": "FI"}

# Parts of a member state outside this box (the outermost regions: the Azores, Madeira, the Canary Islands and the
# French overseas departments) are left out, as on most maps of Europe without insets; the colour is the state's.
EUROPE = {"west": -12.0, "east": 40.0, "south": 33.0, "north": 72.0}

# neighbours drawn for context: every shape with a point in this box (the frame then cuts them)
NEAR = {"west": -45.0, "east": 75.0, "south": 20.0, "north": 85.0}

CENTRE_LON, CENTRE_LAT = 10.0, 52.0
WIDTH = 1000  # viewBox width; the height follows from the frame
MARGIN = 0.03  # of the member states' extent, on each side
TOLERANCE = 0.5  # Douglas-Peucker tolerance in viewBox units
MIN_RING_AREA = 2.0  # smaller islands are dropped (in square viewBox units)
DOT_BELOW = 200.0  # a member state smaller than this also gets a dot, so that it can be seen and pointed at

Point = tuple[float, float]


def lambert(lon: float, lat: float) -> Point:
    """Lambert azimuthal equal-area on the unit sphere, north up (y grows southwards, as in SVG)."""
    lam, phi = math.radians(lon - CENTRE_LON), math.radians(lat)
    phi1 = math.radians(CENTRE_LAT)
    k = math.sqrt(2 / (1 + math.sin(phi1) * math.sin(phi) + math.cos(phi1) * math.cos(phi) * math.cos(lam)))
    x = k * math.cos(phi) * math.sin(lam)
    y = k * (math.cos(phi1) * math.sin(phi) - math.sin(phi1) * math.cos(phi) * math.cos(lam))
    return x, -y


def decode_arcs(topology: dict) -> list[list[tuple[int, int]]]:
    """Delta-encoded quantized arcs -> absolute quantized positions."""
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x, y))
        arcs.append(points)
    return arcs


def polygons_of(geometry: dict) -> list[list[list[int]]]:
    if geometry["type"] == "Polygon":
        return [geometry["arcs"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["arcs"])
    return []


def dissolve(rings: list[list[int]], arcs: list[list[tuple[int, int]]]) -> list[list[int]]:
    """Rings of several shapes as one: an arc used once each way is an inner border and goes; the rest is stitched."""
    directed = [a for ring in rings for a in ring]
    used = {a for a in directed}
    kept = [a for a in directed if ~a not in used]

    def ends(a: int) -> tuple[tuple[int, int], tuple[int, int]]:
        points = arcs[a] if a >= 0 else arcs[~a][::-1]
        return points[0], points[-1]

    by_start = {ends(a)[0]: a for a in kept}
    result, seen = [], set()
    for first in kept:
        if first in seen:
            continue
        ring, a = [], first
        while a not in seen:
            seen.add(a)
            ring.append(a)
            a = by_start[ends(a)[1]]
        result.append(ring)
    return result


def simplify(points: list[Point], tolerance: float) -> list[Point]:
    """Douglas-Peucker, endpoints kept; a closed arc is split at its farthest point first."""
    if len(points) < 3:
        return points
    if points[0] == points[-1]:
        far = max(range(len(points)), key=lambda i: math.dist(points[0], points[i]))
        if far in (0, len(points) - 1):
            return points
        return simplify(points[: far + 1], tolerance)[:-1] + simplify(points[far:], tolerance)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        length = math.hypot(bx - ax, by - ay)
        best, index = -1.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            if length == 0:
                d = math.hypot(px - ax, py - ay)
            else:
                d = abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length
            if d > best:
                best, index = d, i
        if index > 0 and best > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def clip(ring: list[Point], box: tuple[float, float, float, float]) -> list[Point]:
    """Sutherland-Hodgman against a rectangle (left, top, right, bottom)."""
    left, top, right, bottom = box
    edges = [
        (lambda p: p[0] >= left, lambda p, q: (left, p[1] + (q[1] - p[1]) * (left - p[0]) / (q[0] - p[0]))),
        (lambda p: p[0] <= right, lambda p, q: (right, p[1] + (q[1] - p[1]) * (right - p[0]) / (q[0] - p[0]))),
        (lambda p: p[1] >= top, lambda p, q: (p[0] + (q[0] - p[0]) * (top - p[1]) / (q[1] - p[1]), top)),
        (lambda p: p[1] <= bottom, lambda p, q: (p[0] + (q[0] - p[0]) * (bottom - p[1]) / (q[1] - p[1]), bottom)),
    ]
    for inside, cross in edges:
        if not ring:
            break
        result = []
        previous = ring[-1]
        for point in ring:
            if inside(point):
                if not inside(previous):
                    result.append(cross(previous, point))
                result.append(point)
            elif inside(previous):
                result.append(cross(previous, point))
            previous = point
        ring = result
    return ring


def area(ring: list[Point]) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True))) / 2


def centroid(ring: list[Point]) -> Point:
    signed = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        signed += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if signed == 0:
        return ring[0]
    return cx / (3 * signed), cy / (3 * signed)


def path_data(rings: list[list[tuple[int, int]]]) -> str:
    """Absolute first point, then relative steps: the shortest plain SVG path syntax."""
    parts = []
    for ring in rings:
        (x, y), rest = ring[0], ring[1:]
        steps = []
        for px, py in rest:
            steps.append(f"{px - x} {py - y}")
            x, y = px, py
        parts.append(f"M{ring[0][0]} {ring[0][1]}l" + " ".join(steps) + "z")
    return "".join(parts).replace(" -", "-")


def build(topology: dict) -> dict:
    transform = topology["transform"]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    quantized = decode_arcs(topology)
    geometries = topology["objects"]["countries"]["geometries"]

    def lonlat(q: tuple[int, int]) -> tuple[float, float]:
        return q[0] * sx + tx, q[1] * sy + ty

    # which arcs each country uses, as rings of arc indices; outermost regions dropped from member states
    countries: dict[str, list[list[list[int]]]] = {}
    context: list[list[list[int]]] = []
    for geometry in geometries:
        name = geometry.get("properties", {}).get("name", "")
        code = MEMBER_STATES.get(geometry.get("id", "")) or MERGED_INTO.get(name)
        for polygon in polygons_of(geometry):
            first = polygon[0][0]
            lon, lat = lonlat(quantized[first if first >= 0 else ~first][0])
            if code is None:
                if any(
                    NEAR["west"] <= x <= NEAR["east"] and NEAR["south"] <= y <= NEAR["north"]
                    for x, y in (lonlat(q) for a in polygon[0] for q in quantized[a if a >= 0 else ~a])
                ):
                    context.append(polygon)
                continue
            if EUROPE["west"] <= lon <= EUROPE["east"] and EUROPE["south"] <= lat <= EUROPE["north"]:
                countries.setdefault(code, []).append(polygon)
    assert sorted(countries) == sorted(MEMBER_STATES.values()), "a member state is missing from the source"
    for code in set(MERGED_INTO.values()):
        countries[code] = [[ring] for ring in dissolve([r for p in countries[code] for r in p], quantized)]

    projected = [[lambert(*lonlat(q)) for q in arc] for arc in quantized]
    used = {a if a >= 0 else ~a for polys in countries.values() for p in polys for r in p for a in r}
    xs = [x for a in used for x, _y in projected[a]]
    ys = [y for a in used for _x, y in projected[a]]
    (x0, x1), (y0, y1) = (min(xs), max(xs)), (min(ys), max(ys))
    pad = MARGIN * max(x1 - x0, y1 - y0)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    scale = WIDTH / (x1 - x0)
    height = round((y1 - y0) * scale)
    arcs = [simplify([((x - x0) * scale, (y - y0) * scale) for x, y in arc], TOLERANCE) for arc in projected]
    frame = (-2.0, -2.0, WIDTH + 2.0, height + 2.0)

    def rings_of(polygons: list[list[list[int]]], min_area: float = MIN_RING_AREA) -> list[list[tuple[int, int]]]:
        out = []
        for polygon in polygons:
            for ring_arcs in polygon:
                ring: list[Point] = []
                for a in ring_arcs:
                    points = arcs[a] if a >= 0 else arcs[~a][::-1]
                    ring.extend(points if not ring else points[1:])
                ring = clip(ring[:-1], frame)
                rounded: list[tuple[int, int]] = []
                for x, y in ring:
                    point = (round(x), round(y))
                    if not rounded or rounded[-1] != point:
                        rounded.append(point)
                while len(rounded) > 1 and rounded[0] == rounded[-1]:
                    rounded.pop()
                if len(rounded) >= 3 and area(rounded) >= min_area:
                    out.append(rounded)
        return out

    states = {}
    for code in sorted(countries):
        rings = rings_of(countries[code])
        if not rings:  # a state too small for the area limit keeps its largest piece: never empty
            rings = sorted(rings_of(countries[code], min_area=0.0), key=area)[-1:]
        entry: dict[str, object] = {"d": path_data(rings)}
        total = sum(area(r) for r in rings)
        if total < DOT_BELOW:
            biggest = max(rings, key=area)
            cx, cy = centroid([(float(x), float(y)) for x, y in biggest])
            entry["dot"] = [round(cx), round(cy)]
        states[code] = entry
    return {
        "source": "Natural Earth 1:50m Admin 0 countries, version 4.1.0, via the npm package world-atlas 2.0.2",
        "licence": "Natural Earth: public domain; world-atlas: ISC licence, Copyright 2013-2019 Michael Bostock",
        "projection": "Lambert azimuthal equal-area centred on 52N 10E (the centre of EPSG:3035), on a sphere",
        "width": WIDTH,
        "height": height,
        "member_states": states,
        "context": path_data(rings_of(context)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="countries-50m.json from the world-atlas package")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = build(json.loads(args.source.read_text(encoding="utf-8")))
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode()):,} bytes, {data['width']}x{data['height']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
