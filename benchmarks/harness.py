"""Results of the suite: repeated samples, paired ratios and targets, and the interleaved runner."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["CaseResult", "Ratio", "Series", "Target", "interleave"]


@dataclass
class Series:
    """Repeated measurements of one side of a comparison (one value per repetition)."""

    label: str
    unit: str
    values: list[float] = field(default_factory=list)
    scale: float = 1.0  # multiply values by this for display in ``unit``

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


@dataclass
class Ratio:
    """``numerator / denominator`` per repetition (paired, as they ran side by side)."""

    label: str
    values: list[float]

    @classmethod
    def of(cls, label: str, numerator: Series, denominator: Series) -> Ratio:
        pairs = zip(numerator.values, denominator.values, strict=False)
        return cls(label, [a / b if b else float("inf") for a, b in pairs])

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


@dataclass
class Target:
    """A goal from issue 6: ``value <= limit`` (``at_most``) or ``value >= limit``."""

    text: str
    value: float
    limit: float
    at_most: bool = True
    shown: str = ""  # how the value is displayed, when a plain ratio does not fit

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.at_most else self.value >= self.limit


@dataclass
class CaseResult:
    key: str
    title: str
    series: list[Series] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def interleave(reps: int, sides: Sequence[tuple[Series, Callable[[], float]]]) -> None:
    """Run every side once per repetition, rotating who goes first (ABC, BCA, CAB, ...)."""
    for rep in range(reps):
        shift = rep % len(sides)
        for series, measure in [*sides[shift:], *sides[:shift]]:
            series.values.append(measure())
