"""What the benchmark's child processes measure: one record per solver and size.

bench/run.py fills these (each child prints one Measurement as JSON); bench/report.py renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXACT, FULL_MODEL = "exact", "full_model"


@dataclass
class HighsCalls:
    """Pyomo → HiGHS solves in one process, one list entry per call: the model's columns, its
    hand-over (Pyomo's 'set_instance') and its HiGHS run ('optimize'), both wall clock; the
    branch-and-bound nodes summed; ``complete`` is False if some call could not be read."""

    columns: list[int | None] = field(default_factory=list)
    handover_s: list[float] = field(default_factory=list)
    run_s: list[float] = field(default_factory=list)
    nodes: int = 0
    complete: bool = True

    @property
    def calls(self) -> int:
        return len(self.columns)

    @property
    def total_handover_s(self) -> float:
        return sum(self.handover_s)

    @property
    def total_run_s(self) -> float:
        return sum(self.run_s)


@dataclass(frozen=True)
class Measurement:
    """One solver on one size, in its own process; seconds, MB (peak RSS of the whole child).

    ``relaxation_*`` and ``binding_rows`` come from the LP relaxation, timed in the exact child only.
    """

    method: str
    customers: int
    campaigns: int
    candidate_pairs: int
    problem_digest: str
    source_digest: str
    numpy_pass_s: float
    build_s: float
    solve_s: float
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    core_pairs: int | None
    highs: HighsCalls | None
    violations: int
    rss_before_mb: float
    peak_rss_mb: float
    load: tuple[float, float]
    relaxation_s: float | None = None
    relaxation_bound: float | None = None
    binding_rows: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, fields: dict) -> Measurement:
        highs = fields.pop("highs")
        return cls(**{**fields, "load": tuple(fields["load"]), "binding_rows": tuple(fields["binding_rows"])},
                   highs=None if highs is None else HighsCalls(**highs))

    @property
    def total_s(self) -> float:
        return self.build_s + self.solve_s

    @property
    def split(self) -> HighsCalls | None:
        """The HiGHS calls, if every one of them could be read."""
        return self.highs if self.highs is not None and self.highs.complete and self.highs.calls else None


@dataclass(frozen=True)
class Failure:
    """A child process that did not report (crash, out of memory, timeout)."""

    method: str
    customers: int
    campaigns: int
    reason: str


@dataclass(frozen=True)
class SizeOutcome:
    """Both methods on one size; ``full_model`` is None when it was not asked for."""

    customers: int
    campaigns: int
    exact: Measurement | Failure
    full_model: Measurement | Failure | None

    @property
    def label(self) -> str:
        return f"{self.customers:,}×{self.campaigns}"

    @property
    def measured(self) -> list[Measurement]:
        return [m for m in (self.exact, self.full_model) if isinstance(m, Measurement)]

    @property
    def complete(self) -> bool:
        return not any(isinstance(m, Failure) for m in (self.exact, self.full_model))
