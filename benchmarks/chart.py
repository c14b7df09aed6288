"""A small PNG bar chart of the suite's ratios, written with the standard library (zlib + struct).

One row per ratio, on a log scale from 0.1x to 100x: green / red bars are targets met / not met (the black
tick is the goal), grey bars are ratios reported without a target.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence

from benchmarks.harness import CaseResult

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
BLACK: Color = (20, 20, 20)
GRID: Color = (200, 200, 200)
GREEN: Color = (60, 160, 80)
RED: Color = (200, 60, 60)
GREY: Color = (150, 160, 175)

# 3x5 pixel glyphs: five rows of three cells, top to bottom, "#" = ink.
_GLYPHS = {
    "A": ".#. #.# ### #.# #.#",
    "B": "##. #.# ##. #.# ##.",
    "C": ".## #.. #.. #.. .##",
    "D": "##. #.# #.# #.# ##.",
    "E": "### #.. ##. #.. ###",
    "F": "### #.. ##. #.. #..",
    "G": ".## #.. #.# #.# .##",
    "H": "#.# #.# ### #.# #.#",
    "I": "### .#. .#. .#. ###",
    "J": "..# ..# ..# #.# .#.",
    "K": "#.# #.# ##. #.# #.#",
    "L": "#.. #.. #.. #.. ###",
    "M": "#.# ### ### #.# #.#",
    "N": "##. #.# #.# #.# #.#",
    "O": ".#. #.# #.# #.# .#.",
    "P": "##. #.# ##. #.. #..",
    "Q": ".#. #.# #.# ##. .##",
    "R": "##. #.# ##. #.# #.#",
    "S": ".## #.. .#. ..# ##.",
    "T": "### .#. .#. .#. .#.",
    "U": "#.# #.# #.# #.# ###",
    "V": "#.# #.# #.# #.# .#.",
    "W": "#.# #.# ### ### #.#",
    "X": "#.# #.# .#. #.# #.#",
    "Y": "#.# #.# .#. .#. .#.",
    "Z": "### ..# .#. #.. ###",
    "0": "### #.# #.# #.# ###",
    "1": ".#. ##. .#. .#. ###",
    "2": "##. ..# .#. #.. ###",
    "3": "##. ..# .#. ..# ##.",
    "4": "#.# #.# ### ..# ..#",
    "5": "### #.. ##. ..# ##.",
    "6": ".## #.. ### #.# ###",
    "7": "### ..# .#. .#. .#.",
    "8": "### #.# ### #.# ###",
    "9": "### #.# ### ..# ##.",
    ".": "... ... ... ... .#.",
    ",": "... ... ... .#. #..",
    "/": "..# ..# .#. #.. #..",
    "-": "... ... ### ... ...",
    "+": "... .#. ### .#. ...",
    "=": "... ### ... ### ...",
    "<": "..# .#. #.. .#. ..#",
    ">": "#.. .#. ..# .#. #..",
    "(": ".#. #.. #.. #.. .#.",
    ")": ".#. ..# ..# ..# .#.",
    ":": "... .#. ... .#. ...",
    "%": "#.# ..# .#. #.. #.#",
    "_": "... ... ... ... ###",
    "'": ".#. .#. ... ... ...",
}
_SCALE = 2
_ADVANCE = 4 * _SCALE


def _bits(pattern: str) -> list[bool]:
    return [c == "#" for c in pattern.replace(" ", "")]


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(WHITE * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        x0, x1 = max(0, min(x0, x1)), min(self.width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height, max(y0, y1))
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            start = 3 * (y * self.width + x0)
            self.pixels[start : start + len(row)] = row

    def text(self, x: int, y: int, text: str, color: Color = BLACK) -> None:
        for char in text.upper():
            glyph = _GLYPHS.get(char)
            if glyph is not None:
                for i, ink in enumerate(_bits(glyph)):
                    if ink:
                        gx, gy = x + (i % 3) * _SCALE, y + (i // 3) * _SCALE
                        self.rect(gx, gy, gx + _SCALE, gy + _SCALE, color)
            x += _ADVANCE

    def png(self) -> bytes:
        stride = 3 * self.width
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def _rows(cases: Sequence[CaseResult]) -> list[tuple[str, float, float | None, bool]]:
    """(label, ratio, goal, met) for every ratio; goal is None without a target."""
    rows: list[tuple[str, float, float | None, bool]] = []
    for case in cases:
        for ratio in case.ratios:
            target = next((t for t in case.targets if not t.shown and t.value == ratio.median), None)
            goal = target.limit if target else None
            rows.append((f"{case.key} {ratio.label}", ratio.median, goal, target.met if target else True))
    return rows


LOW, HIGH = 0.1, 1000.0


def render(cases: Sequence[CaseResult], title: str) -> bytes:
    rows = _rows(cases)
    bar_left, bar_right = 60 * _ADVANCE + 20, 60 * _ADVANCE + 460
    row_height, top = 22, 48
    canvas = Canvas(bar_right + 90, top + row_height * max(1, len(rows)) + 16)
    canvas.text(8, 8, title)

    def x_of(value: float) -> int:
        value = min(max(value, LOW), HIGH)
        span = math.log10(HIGH) - math.log10(LOW)
        return bar_left + round((math.log10(value) - math.log10(LOW)) / span * (bar_right - bar_left))

    for decade in (0.1, 1, 10, 100, 1000):
        x = x_of(decade)
        canvas.rect(x, top - 6, x + 1, canvas.height - 8, GRID)
        canvas.text(x - 6, top - 20, f"{decade:g}X")
    for i, (label, value, goal, met) in enumerate(rows):
        y = top + i * row_height
        canvas.text(8, y + 4, label[:58])
        color = GREY if goal is None else (GREEN if met else RED)
        canvas.rect(x_of(LOW), y + 2, x_of(value), y + row_height - 4, color)
        end = max(x_of(value), x_of(goal) if goal is not None else 0)
        canvas.text(min(end, bar_right) + 6, y + 4, f"{value:.2f}X")
        if goal is not None:
            gx = x_of(goal)
            canvas.rect(gx - 1, y, gx + 2, y + row_height - 2, BLACK)
    return canvas.png()
