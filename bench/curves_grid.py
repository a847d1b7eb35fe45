"""The 124M schedule grid (Schaipp et al., ICML 2025; MIT): load it as lrkit runs.

Reads ``../shared/data/schedule-grid/124m`` (W&B-style JSON exports, see its README). Every run's
schedule is rebuilt update by update (WSD: linear warmup from peak/100 over 300 updates, constant,
cooldown over the last fraction F to 0, linear or 1-sqrt; cosine: torch OneCycleLR, a half-cosine
warmup from peak/100 to update 299, then a cosine to the floor at update T-1) and checked against
every logged ``train_lr``. Histories that were resumed are sorted by update, duplicates kept once.

``--grid FOLDER`` runs the same protocols on another model size's folder of the same exports (each run's kind
read from its config; the peaks, the pilots' length and the peaks that have pilots from the folder's runs:
:func:`configure`); its figures are printed, not written to bench/results (which hold the 124M grid's).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: ../shared/data from the repository root (a git worktree one level deeper: ../../shared/data)
SHARED = next((p for p in (ROOT / ".." / "shared" / "data", ROOT / ".." / ".." / "shared" / "data") if p.is_dir()),
              ROOT / ".." / "shared" / "data")
GRID = SHARED / "schedule-grid" / "124m"
WARMUP = 300


@dataclass(frozen=True)
class GridRun:
    """One configuration of the grid."""

    kind: str  # "wsd", "stable", "cos-10", "cos-zero"
    peak: float
    length: int
    fraction: float  # WSD cooldown fraction (0 for stable / cosine)
    shape: str  # "linear" / "sqrt" (WSD), "" otherwise
    lrs: np.ndarray  # every update's learning rate, 0 .. length-1
    steps: np.ndarray  # validation steps (updates done)
    losses: np.ndarray  # validation losses
    final: float  # final_val_loss (a larger validation pass, at `length`)
    branch: int  # first update of the run's own history (0: trained from 0)

    @property
    def name(self) -> str:
        if self.kind == "wsd":
            shape = "" if self.shape == "linear" else "-sqrt"
            return f"wsd{round(100 * self.fraction)}{shape}@{self.peak:g}/{self.length // 1000}k"
        return f"{self.kind}@{self.peak:g}/{self.length // 1000}k"


def schedule(kind: str, peak: float, length: int, fraction: float = 0.0, shape: str = "linear",
             floor: float | None = None) -> np.ndarray:
    """The learning rate of every update of a grid configuration (cosine ``floor``: absolute; default 10% of
    the peak for "cos-10", 1e-7 for "cos-zero", the runs' ``cos_final_lr``)."""
    t = np.arange(length, dtype=np.float64)
    if kind in ("wsd", "stable"):
        lrs = np.full(length, peak)
        lrs[:WARMUP] = peak * (0.01 + 0.99 * t[:WARMUP] / WARMUP)
        if kind == "wsd" and fraction > 0:
            t0 = round((1 - fraction) * length)
            u = (t[t0:] - t0) / (length - t0)
            lrs[t0:] = peak * ((1 - u) if shape == "linear" else (1 - np.sqrt(u)))
        return lrs
    if floor is None:
        floor = peak * 0.1 if kind == "cos-10" else 1e-7
    start = peak / 100
    lrs = np.empty(length)
    w = WARMUP - 1
    pct = t[: w + 1] / w
    lrs[: w + 1] = peak + (start - peak) / 2 * (1 + np.cos(math.pi * pct))
    pct = (t[w + 1 :] - w) / (length - 1 - w)
    lrs[w + 1 :] = floor + (peak - floor) / 2 * (1 + np.cos(math.pi * pct))
    return lrs


def _series(part: dict, key: str) -> tuple[np.ndarray, np.ndarray]:
    it = np.asarray(part["iter"], dtype=np.int64)
    val = np.asarray(part[key], dtype=np.float64)
    n = min(it.size, val.size)
    it, val = it[:n], val[:n]
    order = np.argsort(it, kind="stable")
    it, val = it[order], val[order]
    last = np.ones(it.size, dtype=bool)
    last[:-1] = it[1:] != it[:-1]  # a resumed run logs some updates twice: keep the last
    return it[last], val[last]


#: a run whose last validation loss lies this factor above its lowest diverged (a sanity bound, not a fit)
DIVERGED = 1.1


def load(folder: Path = GRID) -> dict[str, GridRun]:
    """Every run of a grid folder (W&B exports of Schaipp et al.'s runs), by :attr:`GridRun.name`; a run whose
    validation loss ends more than :data:`DIVERGED` times above its lowest is left out (diverged)."""
    out: dict[str, GridRun] = {}
    for path in sorted(Path(folder).glob("*.json")):
        data = json.loads(path.read_text())
        c = data["config"]
        peak, length = float(c["lr"]), int(c["iterations"])
        # the run's kind from its config (the file names are the 124M grid's: ann124-*, stable-124m_*, ...)
        if c["scheduler"] == "wsd":
            fraction = float(c["wsd_fract_decay"])
            kind, shape = ("wsd", str(c["decay_type"])) if fraction > 0 else ("stable", "")
        else:  # "cos": to cos_final_lr, or to 10% of the peak where it is -1
            kind, fraction, shape = ("cos-10" if float(c["cos_final_lr"]) < 0 else "cos-zero"), 0.0, ""
        floor = float(c["cos_final_lr"]) if float(c["cos_final_lr"]) >= 0 else 0.1 * peak
        lrs = schedule(kind, peak, length, fraction, shape or "linear", floor)
        it, lr = _series(data["history"]["train"], "train_lr")
        inside = it < length
        if not np.allclose(lrs[it[inside]], lr[inside], rtol=1e-6, atol=1e-9):
            bad = int(np.argmax(~np.isclose(lrs[it[inside]], lr[inside], rtol=1e-6, atol=1e-9)))
            raise ValueError(f"{path.name}: train_lr at update {it[inside][bad]} is {lr[inside][bad]}, "
                             f"rebuilt {lrs[it[inside][bad]]}")
        steps, losses = _series(data["history"]["val"], "val_loss")
        if losses[-1] > DIVERGED * losses.min():  # it diverged (124M: the 5e-3 cosine, 7.55 at its end, 5.59 least)
            continue
        keep = (steps >= 1) & (steps <= length)
        run = GridRun(kind, peak, length, fraction, shape, lrs, steps[keep], losses[keep],
                      float(data["history"]["final-val"]["final_val_loss"][0]), int(steps.min()))
        out[run.name] = run
    return out


def stable_run(grid: dict[str, GridRun], peak: float) -> GridRun:
    """The stable (constant) run of ``peak``: every protocol truncates it."""
    return next(r for r in grid.values() if r.kind == "stable" and r.peak == peak)


# -- the protocol ------------------------------------------------------------------------------------------------
#: the peaks of the grid, highest first (:func:`configure` sets them from a grid's stable runs)
PEAKS: tuple[float, ...] = (2e-3, 1e-3, 5e-4, 1e-4)
#: the peaks with a WSD run of the pilots' length (the 124M grid has none at 1e-4)
PILOTED: tuple[float, ...] = (2e-3, 1e-3, 5e-4)
#: the pilot: a 15,000-update WSD run with a 10% linear cooldown, a branch of the stable run at 13,500
PILOT_LENGTH, PILOT_FRACTION = 15000, 0.1


def configure(grid: dict[str, GridRun]) -> None:
    """The protocols' peaks and pilot length from ``grid`` (another model size's folder, ``--grid``): the stable
    runs' peaks, the shortest WSD runs' length, the peaks that have one. The 124M grid's are the defaults above."""
    global PEAKS, PILOTED, PILOT_LENGTH, BRANCH_PILOT
    PEAKS = tuple(sorted({r.peak for r in grid.values() if r.kind == "stable"}, reverse=True))
    PILOT_LENGTH = BRANCH_PILOT = min(r.length for r in grid.values() if r.kind == "wsd")
    PILOTED = tuple(p for p in PEAKS if any(r.kind == "wsd" and r.peak == p and r.length == PILOT_LENGTH
                                            for r in grid.values()))


@dataclass(frozen=True)
class Protocol:
    """What a user trains before choosing a schedule for ``length`` updates, and what it costs."""

    length: int
    pilots: tuple[float, ...]  # peaks with a pilot run (stable to 13,500 + a 1,500-update cooldown)
    stables: tuple[tuple[float, int], ...]  # (peak, updates) of truncated stable runs
    cost: int  # updates trained in all (shared prefixes once)

    def describe(self) -> str:
        parts = [f"WSD-10% pilot of {PILOT_LENGTH:,} at {p:g}" for p in self.pilots]
        parts += [f"stable at {p:g} to {n:,}" for p, n in self.stables]
        return "; ".join(parts)


def protocol(length: int, budget: float = 1.5) -> Protocol:
    """The cheapest protocol we state for a run of ``length`` updates (the same rule at every length): a pilot
    at each peak, highest first, while ``budget`` x ``length`` updates allow; what is left goes to stable
    runs at the next peaks (equal shares, at least 2,000 updates each)."""
    total = int(budget * length)
    pilots: list[float] = []
    for peak in PILOTED:
        if (len(pilots) + 1) * PILOT_LENGTH <= total:
            pilots.append(peak)
    left = total - len(pilots) * PILOT_LENGTH
    rest = [p for p in PEAKS if p not in pilots]
    stables: list[tuple[float, int]] = []
    while rest and left // len(rest) < 2000:
        rest.pop()
    if rest:
        share = left // len(rest)
        stables = [(p, share) for p in rest]
    cost = len(pilots) * PILOT_LENGTH + sum(n for _, n in stables)
    return Protocol(length, tuple(pilots), tuple(stables), cost)


def protocol_runs(grid: dict[str, GridRun], proto: Protocol) -> tuple[list, dict[str, float]]:
    """The fitted runs of ``proto`` as lrkit runs (validation loss, points after the warmup) and the measured
    final (``final_val_loss``) of each run that has one (the pilots)."""
    from lrkit import curves

    runs, finals = [], {}
    for peak in proto.pilots:
        stable = stable_run(grid, peak)
        pilot = grid[f"wsd{int(100 * PILOT_FRACTION)}@{peak:g}/{PILOT_LENGTH // 1000}k"]
        branch = round((1 - PILOT_FRACTION) * PILOT_LENGTH)
        keep = stable.steps <= branch
        own = pilot.steps > branch
        steps = np.concatenate((stable.steps[keep], pilot.steps[own]))
        losses = np.concatenate((stable.losses[keep], pilot.losses[own]))
        runs.append(curves.Run(pilot.lrs, steps, losses, pilot.name))
        finals[pilot.name] = pilot.final
    for peak, updates in proto.stables:
        stable = stable_run(grid, peak)
        keep = stable.steps <= updates
        runs.append(curves.Run(stable.lrs[:updates], stable.steps[keep], stable.losses[keep],
                               f"stable@{peak:g} to {updates}"))
    return runs, finals


# -- the branch protocol: per peak, the stable run and two cooldown branches of a short pilot ------------------------
#: a pilot's length (the grid's shortest), and the cooldown fractions of its short and long branches
BRANCH_PILOT, SHORT, LONG = 15000, 0.2, 0.6


@dataclass(frozen=True)
class BranchProtocol:
    """Per peak: the stable run to ``stable_to`` and cooldown branches of a ``BRANCH_PILOT``-update run with the
    cooldown fractions ``fractions`` (each from the stable run's checkpoint at ``(1 - F) * BRANCH_PILOT``)."""

    length: int
    peaks: tuple[float, ...]
    stable_to: int
    fractions: tuple[float, ...]
    cost: int

    def describe(self) -> str:
        branches = " + ".join(f"{round(100 * f)}% branch" for f in self.fractions)
        return (f"at {', '.join(f'{p:g}' for p in self.peaks)}: stable to {self.stable_to:,} + {branches} "
                f"of a {BRANCH_PILOT:,} run")


def branch_protocol(length: int, budget: float = 1.5) -> BranchProtocol:
    """The same rule at every length: per peak (highest first) the stable run to the short branch's checkpoint
    plus both branches (``(1 - SHORT + SHORT + LONG) * BRANCH_PILOT`` updates) while the budget allows; if it
    allows none, one peak with the long branch only; what is left extends each peak's stable run equally
    (up to ``length``)."""
    total = int(budget * length)
    unit_stable = round((1 - SHORT) * BRANCH_PILOT)
    full = unit_stable + round(SHORT * BRANCH_PILOT) + round(LONG * BRANCH_PILOT)
    n = min(len(PILOTED), total // full)
    fractions: tuple[float, ...] = (SHORT, LONG)
    if n == 0:
        n, fractions = 1, (LONG,)
        full = unit_stable + round(LONG * BRANCH_PILOT)
    extra = (total - n * full) // n
    stable_to = min(length, unit_stable + max(0, extra))
    branches = sum(round(f * BRANCH_PILOT) for f in fractions)
    return BranchProtocol(length, PILOTED[:n], stable_to, fractions, n * (stable_to + branches))


def branch_runs(grid: dict[str, GridRun], proto: BranchProtocol, peak: float) -> list:
    """One peak's runs: the truncated stable run and its cooldown branches (``Run.branch``: the shared points
    once), each branch with its measured ``final_val_loss``."""
    from lrkit import curves

    stable = stable_run(grid, peak)
    keep = stable.steps <= proto.stable_to
    parent = curves.Run(stable.lrs[: proto.stable_to], stable.steps[keep], stable.losses[keep],
                        f"stable@{peak:g} to {proto.stable_to}")
    runs = [parent]
    for f in proto.fractions:
        pilot = grid[f"wsd{round(100 * f)}@{peak:g}/{BRANCH_PILOT // 1000}k"]
        at = round((1 - f) * BRANCH_PILOT)
        own = pilot.steps > at
        runs.append(curves.Run.branch(parent, pilot.lrs, pilot.steps[own], pilot.losses[own], at=at,
                                      name=pilot.name, final=pilot.final, final_step=pilot.length))
    return runs


def pick(predicted: list[tuple[float, float, str]], trained: list[GridRun], decided: bool) -> str:
    """The configuration a user of the protocol trains at T: the best protocol run of length T (its final
    measured), unless ``choose`` ranked (``decided``) and a candidate is predicted below that final by more
    than its fit's noise floor (``Choice.floor``: one logged point's scatter around the law; finals closer
    than that cannot be told apart by the runs' own logs, ``choose``'s "any of these") -- then, of those, the
    lowest prediction; without a trained run of length T, the lowest prediction. ``predicted``: (predicted
    final, its fit's noise floor, name).

    Found after the figures: at 15k the lowest prediction, WSD 40%, was 0.0025 below the trained 60% branch,
    within that fit's floor (0.0035), and measured 0.0040 above it.

    >>> trained = GridRun("wsd", 2e-3, 15000, 0.6, "linear", np.zeros(0), np.zeros(0), np.zeros(0), 3.0913, 0)
    >>> pick([(3.0888, 0.0035, "wsd40@0.002/15k")], [trained], True)
    'wsd60@0.002/15k'
    >>> pick([(3.0848, 0.0035, "wsd40@0.002/15k")], [trained], True)  # 0.0065 below: more than the floor
    'wsd40@0.002/15k'
    """
    if trained:
        kept = min(trained, key=lambda t: t.final)
        better = [p for p in predicted if p[0] < kept.final - p[1]]
        return min(better)[2] if decided and better else kept.name
    return min(predicted)[2]


def score_choices(grid: dict[str, GridRun], length: int, fitted: set[str], fits: dict, offset: dict[float, float],
                  offsets: np.ndarray, level: float) -> dict:
    """Each peak's fit ranks its candidates at ``length`` (``curves.choose``); the rankings merged on predicted
    finals (the law's final plus the peak's offset, ``final_val_loss`` over the law); the chosen one by
    :func:`pick` (a protocol run of this length kept unless a candidate is surely better); scored against the
    grid (both protocols score this way).

    A predicted final's 95% half-width adds the spread of the fitted finals' offsets (and of their mean) to the
    fit's interval (with one fitted final, whose offset has no spread to measure: one logged point's scatter
    around the law, the fit's ``noise x`` the final, as that spread)."""
    import warnings

    from lrkit import curves
    from lrkit.curves.intervals import z_value

    if offsets.size > 1:
        offset_sd = float(offsets.std(ddof=1) * np.sqrt(1 + 1 / offsets.size))
    else:  # one measured final: its offset's sd taken as one logged point's scatter around the law (s x loss)
        noise = max((f.uncertainty.noise for f in fits.values() if f.uncertainty is not None), default=0.0)
        finals = [grid[n].final for n in fitted if grid[n].final]
        offset_sd = float(noise * np.mean(finals) * np.sqrt(1 + 1 / max(offsets.size, 1))) if finals else 0.0
    z = z_value(level)
    rows, choices, floors = [], [], {}
    for peak, result in fits.items():
        cands = {n: c for n, c in candidates(grid, length, fitted).items() if c.peak == peak}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", curves.CurvePredictionWarning)
            [choice] = curves.choose(result, cands, length, level=level)
        choices.append(choice)
        floors[peak] = choice.floor
        rows += list(choice.rows)
    trained = [grid[n] for n in fitted if grid[n].length == length]
    ranked = sorted([(r.predicted + offset[r.peak], r.name) for r in rows] + [(t.final, t.name) for t in trained])
    errors, covered, halves = [], [], []
    signed: dict[float, list[float]] = {}
    predicted: list[tuple[float, float, str]] = []
    for row in rows:
        measured = grid[row.name].final
        pred = row.predicted + offset[row.peak]
        half = np.hypot((row.high - row.low) / 2, z * offset_sd)
        predicted.append((pred, floors[row.peak], row.name))
        halves.append(half / measured)
        errors.append(abs(pred - measured) / measured)
        signed.setdefault(row.peak, []).append((pred - measured) / measured)
        covered.append(abs(pred - measured) <= half)
    at = [r for r in grid.values() if r.length == length and r.kind != "stable"]
    best = min(at, key=lambda r: r.final)
    decided = all(c.decided for c in choices)
    chosen = grid[pick(predicted, trained, decided)]
    wsd20 = grid[f"wsd20@0.001/{length // 1000}k"].final
    cos10 = grid[f"cos-10@0.001/{length // 1000}k"].final
    return {
        "choices": choices, "trained": trained, "ranked": ranked, "predicted": predicted, "best": best,
        "chosen": chosen, "lowest": grid[ranked[0][1]],
        "regret": chosen.final - best.final, "beats": chosen.final < min(wsd20, cos10), "wsd20": wsd20,
        "cos10": cos10, "decided": decided, "mean_error": float(np.mean(errors)),
        "coverage": float(np.mean(covered)), "n": len(errors), "half": float(np.median(halves)),
        "unpredicted": sum(1 for r in at if r.peak not in fits),
        "signed": {p: float(np.mean(v)) for p, v in signed.items()},
    }


def evaluate_branches(grid: dict[str, GridRun], length: int, law: str, level: float = 0.95,
                      pooled: bool = False) -> dict:
    """The branch protocol: one fit per peak (``curves.fit(runs, law)``, every other option default), each peak's
    candidates ranked by ``curves.choose``; the peaks merged on predicted finals (the law at ``length`` plus the
    offset of ``final_val_loss`` over the law, measured on each fit's own branches; ``pooled``: one offset for
    every fit)."""
    import time
    import warnings

    from lrkit import curves

    proto = branch_protocol(length)
    fits, fitted, offsets, offset = {}, set(), [], {}
    start = time.perf_counter()
    for peak in proto.peaks:
        runs = branch_runs(grid, proto, peak)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", curves.CurveFitWarning)
            fits[peak] = curves.fit(runs, law)
        own = [r.final - fits[peak].law.final(r.lrs, r.final_step) for r in runs[1:]]
        fitted |= {r.name for r in runs[1:]}
        offsets += own
        # each fit calibrated on its own measured finals
        offset[peak] = float(np.mean(own))
    seconds = time.perf_counter() - start
    off = np.array(offsets)
    if pooled:
        offset = dict.fromkeys(offset, float(off.mean()))
    scored = score_choices(grid, length, fitted, fits, offset, off, level)
    top = [(name, value, name in {t.name for t in scored["trained"]}) for value, name in scored["ranked"][:3]]
    return {
        "length": length, "protocol": proto, "seconds": seconds, "laws": fits, "offsets": off, "top": top,
        **scored,
        "at_bounds": sorted({n for f in fits.values() if f.uncertainty for n in f.uncertainty.at_bounds}),
    }


# -- the cover protocol: every candidate peak predicted, cooldown branches at some, C carried to the others ---------
#: the cover protocol's cooldown branches (fractions of the peak's pilot), and the shortest stable run that
#: predicts a peak (a fraction of T)
COVER_FRACTIONS, COVER_MIN_STABLE = (0.2,), 0.25
#: the variant recommended after the first rule's figures: both branches at the highest covered peak, 20% at the
#: others (``--cover-variants`` syntax)
COVER_RECOMMENDED = "0.2+0.6:1"
#: every variant tried, in the order tried: the rule as first stated, then its variants
COVER_VARIANTS = ("0.2", "0.1", "0.4", "0.6", "0.2+0.6,branches-first", "0.2+0.6:1,branches-first", "0.2+0.6",
                  COVER_RECOMMENDED)


@dataclass(frozen=True)
class CoverProtocol:
    """Per covered peak a stable run to ``stable_to[peak]``; at the branched peaks also cooldown branches (grid runs
    ``pilots[peak]``, each a branch of the stable run at ``(1 - F) * its length``). The other covered peaks take
    the drop parameter ``C`` carried over from the branched ones; ``dropped``: candidate peaks not predicted."""

    length: int
    fractions: tuple[float, ...]
    full: int | None  # how many of the highest covered peaks take every fraction (None: all)
    stable_to: tuple[tuple[float, int], ...]
    pilots: tuple[tuple[float, tuple[str, ...]], ...]
    dropped: tuple[float, ...]
    cost: int

    @property
    def peaks(self) -> tuple[float, ...]:
        return tuple(p for p, _ in self.stable_to)

    @property
    def branched(self) -> tuple[float, ...]:
        return tuple(p for p, _ in self.pilots)

    def describe(self) -> str:
        to, pilots = dict(self.stable_to), dict(self.pilots)
        parts = []
        for p in self.peaks:
            if p in pilots:
                names = pilots[p]
                branches = " + ".join(n.split("@")[0] for n in names)
                parts.append(f"{p:g}: stable to {to[p]:,} + {branches} of {names[0].split('/')[1]}")
            else:
                parts.append(f"{p:g}: stable to {to[p]:,} (C carried)")
        if self.dropped:
            parts.append(f"not predicted: {', '.join(f'{p:g}' for p in self.dropped)}")
        return "; ".join(parts)


def _pilots(grid: dict[str, GridRun], peak: float, fractions: tuple[float, ...]) -> tuple[GridRun, ...] | None:
    """The peak's pilot runs: for each fraction, the shortest grid run at ``peak`` with that linear cooldown, all of
    one length (the shortest length that has every fraction); None if the grid has none."""
    by_length: dict[int, dict[float, GridRun]] = {}
    for r in grid.values():
        if r.kind == "wsd" and r.shape == "linear" and r.peak == peak:
            by_length.setdefault(r.length, {})[round(r.fraction, 3)] = r
    for length in sorted(by_length):
        runs = by_length[length]
        if all(round(f, 3) in runs for f in fractions):
            return tuple(runs[round(f, 3)] for f in fractions)
    return None


def _peak_cost(runs: tuple[GridRun, ...] | None, floor: int) -> int:
    """A covered peak's updates: its stable run (to the floor or its earliest branch point) and its branches."""
    if runs is None:
        return floor
    return max(floor, *(round((1 - r.fraction) * r.length) for r in runs)) + sum(
        round(r.fraction * r.length) for r in runs)


def cover_protocol(grid: dict[str, GridRun], length: int, fractions: tuple[float, ...] = COVER_FRACTIONS,
                   budget: float = 1.5, min_stable: float = COVER_MIN_STABLE, full: int | None = None,
                   peaks_first: bool = True) -> CoverProtocol:
    """The cover protocol of ``fractions`` (:func:`_cover_protocol`); with two fractions or more and ``peaks_first``,
    the first fraction alone wherever that covers more peaks (a prediction for every configuration comes before a
    second branch at some peaks; ``peaks_first=False``: the branches first, as first tried)."""
    proto = _cover_protocol(grid, length, fractions, budget, min_stable, full)
    if peaks_first and len(fractions) > 1:
        alone = _cover_protocol(grid, length, fractions[:1], budget, min_stable, None)
        if len(alone.peaks) > len(proto.peaks):
            return alone
    return proto


def _cover_protocol(grid: dict[str, GridRun], length: int, fractions: tuple[float, ...], budget: float,
                    min_stable: float, full: int | None) -> CoverProtocol:
    """The same rule at every length T (budget ``budget`` x T updates):

    1. every candidate peak (each peak with a configuration at T) is covered, highest first, while each covered
       peak keeps a stable run of at least ``min_stable`` x T and the branches below fit;
    2. cooldown branches (the peak's pilot runs: its shortest runs with the ``fractions`` cooldowns, branched from
       the stable run) at the covered peaks, the highest and the lowest first, then the others highest first, as
       many peaks as the budget allows; a covered peak without branches takes ``C`` carried over from two
       branched peaks, so either every covered peak is branched or at least two are (else fewer are covered);
       if no peak fits every branch, the last fraction alone; ``full``: only the ``full`` highest covered peaks
       take every fraction, the others the first;
    3. what is left raises the shortest stable runs first (to at most T).
    """
    total = int(budget * length)
    floor = math.ceil(min_stable * length)
    peaks = sorted({r.peak for r in grid.values() if r.length == length and r.kind != "stable"}, reverse=True)
    for n in range(len(peaks), 0, -1):
        covered = peaks[:n]
        order = list(dict.fromkeys([covered[0], covered[-1], *covered]))
        pilots: dict[float, tuple[GridRun, ...]] = {}
        for peak in order:
            runs = _pilots(grid, peak, fractions if full is None or covered.index(peak) < full else fractions[:1])
            if runs is None:
                continue
            trial = {**pilots, peak: runs}
            if sum(_peak_cost(trial.get(p), floor) for p in covered) <= total:
                pilots = trial
        if pilots and (len(pilots) == n or len(pilots) >= 2):
            break
    else:
        if len(fractions) > 1:  # as the branch protocol: no peak fits every branch, so the last one only
            return _cover_protocol(grid, length, fractions[-1:], budget, min_stable, full)
        raise ValueError(f"no peak can be covered in {total:,} updates")
    # each covered peak's stable run: to its earliest branch point or the floor; the budget left raises the shortest
    to = {p: max(floor, *(round((1 - r.fraction) * r.length) for r in pilots[p])) if p in pilots else floor
          for p in covered}
    left = total - sum(_peak_cost(pilots.get(p), floor) for p in covered)
    while left > 0 and any(v < length for v in to.values()):
        low = min(v for v in to.values() if v < length)
        at = [p for p in covered if to[p] == low]
        step = min(min((v for v in to.values() if v > low), default=length) - low, length - low, left // len(at))
        if step <= 0:
            break
        for p in at:
            to[p] += step
        left -= step * len(at)
    cost = sum(to.values()) + sum(round(r.fraction * r.length) for runs in pilots.values() for r in runs)
    return CoverProtocol(length, tuple(fractions), full, tuple((p, to[p]) for p in covered),
                         tuple((p, tuple(r.name for r in pilots[p])) for p in covered if p in pilots),
                         tuple(peaks[n:]), cost)


def carried_c(cs: dict[float, float], peak: float) -> tuple[float, float]:
    """``C`` at ``peak`` from the branched peaks' fitted ``C`` (``cs``, peak -> C): linear in log C against log peak
    through the two nearest branched peaks (between them where they bracket ``peak``), and the sd of its log: half
    the distance from the nearest branched peak's ``C`` (the convex bound's noise term is in absolute learning-rate
    units, so the theory alone would keep ``C`` the same at every peak; the measured trend is taken, and half its
    correction is the uncertainty).

    >>> c, sd = carried_c({2e-3: 20.0, 5e-4: 80.0}, 1e-3)
    >>> round(c, 6), round(sd, 4)  # halfway in log peak: the geometric mean; half the log-distance to 20
    (40.0, 0.3466)
    """
    known = sorted(cs)
    below = [p for p in known if p < peak]
    above = [p for p in known if p > peak]
    if below and above:
        a, b = below[-1], above[0]
    else:
        a, b = sorted(known, key=lambda p: abs(math.log(p / peak)))[:2]
    slope = math.log(cs[b] / cs[a]) / math.log(b / a)
    log_c = math.log(cs[a]) + slope * math.log(peak / a)
    nearest = min(known, key=lambda p: abs(math.log(p / peak)))
    return math.exp(log_c), abs(log_c - math.log(cs[nearest])) / 2


def evaluate_cover(grid: dict[str, GridRun], length: int, fractions: tuple[float, ...] = COVER_FRACTIONS,
                   level: float = 0.95, jackknife: bool | str = True, full: int | None = None,
                   peaks_first: bool = True) -> dict:
    """The cover protocol: each branched peak fitted as the branch protocol's (``curves.fit(runs)``, default options:
    ``law="auto"``), each with the offset of its branches' ``final_val_loss`` over the law; every other covered
    peak's stable run fitted with the convex drop law and ``C`` held by a prior at the carried value
    (``curves.fit([stable], "convex_drop", prior={"C": ...})``; the stable run does not inform ``C``), the carried
    ``C``'s sd put in the fit's covariance, and the offset the mean of the branches'. Candidates: every configuration
    at T not trained, merged across peaks on predicted finals. ``jackknife=False``: the branched fits' intervals
    from the Laplace covariance alone (with one branch, the fit that leaves it out has no drop to fit);
    ``"branches"``: the jackknife where every left-out fit keeps a branch (two branches or more), else not.
    The chosen configuration: the lowest predicted final (``chosen``), and the lowest among the branched peaks'
    (``chosen_branched``: a carried peak's level rests on the other peaks' offsets and its ``C`` on theirs)."""
    import dataclasses
    import time
    import warnings

    from lrkit import curves

    proto = cover_protocol(grid, length, fractions, full=full, peaks_first=peaks_first)
    to, pilots = dict(proto.stable_to), dict(proto.pilots)
    fits, fitted, offset, own_offsets = {}, set(), {}, []
    start = time.perf_counter()
    stables = {}
    for peak in proto.peaks:
        stable = stable_run(grid, peak)
        keep = stable.steps <= to[peak]
        stables[peak] = curves.Run(stable.lrs[: to[peak]], stable.steps[keep], stable.losses[keep],
                                   f"stable@{peak:g} to {to[peak]}")
    for peak in proto.branched:
        runs = [stables[peak]]
        for name in pilots[peak]:
            pilot = grid[name]
            point = round((1 - pilot.fraction) * pilot.length)
            own = pilot.steps > point
            runs.append(curves.Run.branch(stables[peak], pilot.lrs, pilot.steps[own], pilot.losses[own], at=point,
                                          name=pilot.name, final=pilot.final, final_step=pilot.length))
            fitted.add(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", curves.CurveFitWarning)
            fits[peak] = curves.fit(runs, jackknife=len(runs) > 2 if jackknife == "branches" else bool(jackknife))
        own_peak = [float(r.final or 0.0) - fits[peak].law.final(r.lrs, r.final_step) for r in runs[1:]]
        offset[peak] = float(np.mean(own_peak))
        own_offsets += own_peak
    cs = {p: f.law.C for p, f in fits.items() if isinstance(f.law, curves.ConvexDropLaw)}
    carried = {}
    for peak in proto.peaks:
        if peak in fits or len(cs) < 2:
            continue  # with fewer than two branched convex-drop fits, nothing to carry C from: not predicted
        c, sd = carried_c(cs, peak)
        carried[peak] = (c, sd)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", curves.CurveFitWarning)
            result = curves.fit([stables[peak]], "convex_drop", prior={"C": (c, max(sd, 1e-3))})
        u = result.uncertainty
        if u is not None:  # the carried C's own uncertainty (the stable run does not inform C)
            i = u.names.index("C")
            cov = u.covariance.copy()
            cov[i, :] = cov[:, i] = 0.0
            assert isinstance(result.law, curves.ConvexDropLaw)
            cov[i, i] = (result.law.C * sd) ** 2
            result = dataclasses.replace(result, uncertainty=dataclasses.replace(u, covariance=cov))
        fits[peak] = result
        offset[peak] = float(np.mean([offset[p] for p in proto.branched]))  # each branched peak once
    seconds = time.perf_counter() - start
    off = np.array(own_offsets)
    scored = score_choices(grid, length, fitted, fits, offset, off, level)
    best = scored["best"]
    branched = grid[pick([p for p in scored["predicted"] if grid[p[2]].peak in proto.branched], scored["trained"],
                         scored["decided"])]
    return {
        "peaks_first": peaks_first, "chosen_branched": branched, "regret_branched": branched.final - best.final,
        "beats_branched": branched.final < min(scored["wsd20"], scored["cos10"]),
        "length": length, "protocol": proto, "seconds": seconds, "laws": fits, "offsets": off,
        "carried": carried, "cs": cs, **scored,
        "at_bounds": sorted({n for p, f in fits.items() if p not in carried and f.uncertainty
                             for n in f.uncertainty.at_bounds}),
    }


# -- the benchmark --------------------------------------------------------------------------------------------------
LENGTHS = (15000, 25000, 35000, 50000)
WHY = [
    "",
    "In sample the multi-power and momentum laws predict the 40-90% cooldowns 0.01-0.02 too high relative to",
    "the 10-20% ones, so fitted on cheap runs they rank short cooldowns first where the measured best are 60%",
    "ones. The convex bound errs the other way (long cooldowns too low) and ranks the 40-80% cooldowns first.",
    "The convex drop (the area's power law less the bound's drop) keeps the cooldowns' order as measured and,",
    "fitted on the branch protocol, predicts the other finals of the protocol's peaks at 0.1-0.3%.",
]


def candidates(grid: dict[str, GridRun], length: int, exclude: set[str]) -> dict:
    """Every configuration of the grid at ``length`` not fitted, as a choose() candidate (its exact rates)."""
    from lrkit.curves import Candidate

    return {n: Candidate(n, n, r.peak, rates=r.lrs) for n, r in grid.items() if r.length == length
            and n not in exclude and r.kind != "stable"}


def evaluate(grid: dict[str, GridRun], length: int, level: float = 0.95) -> dict:
    """Fit the protocol's runs with the default options, choose at ``length``, score against the grid."""
    import time
    import warnings

    from lrkit import curves
    from lrkit.curves.intervals import z_value

    proto = protocol(length)
    runs, finals = protocol_runs(grid, proto)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", curves.CurveFitWarning)
        result = curves.fit(runs)
    seconds = time.perf_counter() - start
    # finals are a larger validation pass than the logged curve: the offset, measured on the pilots' own finals
    offsets = np.array([finals[r.name] - result.law.final(r.lrs, r.lrs.size) for r in runs if r.name in finals])
    offset = float(offsets.mean())
    offset_var = float(offsets.var(ddof=1) / offsets.size) if offsets.size > 1 else 0.0
    cands = candidates(grid, length, set(finals))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", curves.CurvePredictionWarning)
        [choice] = curves.choose(result, cands, length, level=level)
    z = z_value(level)
    errors, covered, halves = [], [], []
    for row in choice.rows:
        measured = grid[row.name].final
        pred = row.predicted + offset
        half = np.hypot((row.high - row.low) / 2, z * np.sqrt(offset_var))
        halves.append(half / measured)
        errors.append(abs(pred - measured) / measured)
        covered.append(abs(pred - measured) <= half)
    at = [r for r in grid.values() if r.length == length]
    best = min(at, key=lambda r: r.final)
    chosen = grid[choice.best.name]
    wsd20 = grid[f"wsd20@0.001/{length // 1000}k"].final
    cos10 = grid[f"cos-10@0.001/{length // 1000}k"].final
    return {
        "length": length, "protocol": proto, "seconds": seconds, "law": result.law, "choice": choice,
        "offsets": offsets, "best": best, "chosen": chosen, "regret": chosen.final - best.final,
        "beats": chosen.final < min(wsd20, cos10), "wsd20": wsd20, "cos10": cos10,
        "mean_error": float(np.mean(errors)), "coverage": float(np.mean(covered)), "n": len(errors),
        "half": float(np.median(halves)),
        "at_bounds": result.uncertainty.at_bounds if result.uncertainty else (),
    }


def diagnose(grid: dict[str, GridRun], peak: float = 1e-3, length: int = 50000, first: int = 3000) -> list[str]:
    """In sample: each law fitted jointly on every configuration of one peak and length (validation points from
    ``first``); the error of its curve's last point, per configuration. What the law can express at best."""
    import warnings

    from lrkit import curves

    sel = [r for r in grid.values() if r.peak == peak and r.length == length]
    runs = [curves.Run(r.lrs, r.steps[r.steps >= first], r.losses[r.steps >= first], r.name) for r in sel]
    out = [f"| law | {' | '.join(r.name.split('@')[0] for r in sel)} |", "| --- |" + " ---: |" * len(sel)]
    for law in (curves.MultiPowerLaw, curves.MomentumLaw, curves.ConvexBoundLaw, curves.ConvexDropLaw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = curves.fit(runs, law, method="joint", prior=None, jackknife=False, max_evaluations=100)
        ends = [result.law.final(r.lrs, int(r.steps[-1])) - r.losses[-1] for r in sel]
        out.append(f"| {law.__name__} | " + " | ".join(f"{e:+.4f}" for e in ends) + " |")
    return out


def extrapolation(grid: dict[str, GridRun], length: int = 50000) -> list[str]:
    """Where the branch protocol's predicted finals at ``length`` miss, per peak: the default fit's signed error on
    the stable run past its truncation, each branch's offset (and the part of it that is the final's own
    evaluation: ``final_val_loss`` less the last logged point), and the other finals' signed error."""
    r = evaluate_branches(grid, length, "auto")
    proto = r["protocol"]
    marks = sorted({proto.stable_to, 25000, 35000, length})
    out = [f"| peak | law | stable run's error at {' / '.join(f'{m:,}' for m in marks)} | branches' offsets "
           "| final less last logged | other finals: mean signed error | mean error |",
           "| --- | --- | --- | --- | --- | ---: | ---: |"]
    for peak, result in r["laws"].items():
        law = result.law
        stable = stable_run(grid, peak)
        errs = []
        for m in marks:
            i = int(np.argmin(np.abs(stable.steps - m)))
            pred = float(law.predict(stable.lrs, stable.steps[i : i + 1])[0])
            errs.append(f"{100 * (pred - stable.losses[i]) / stable.losses[i]:+.2f}%")
        branches = branch_runs(grid, proto, peak)[1:]
        offs = [b.final - law.final(b.lrs, b.final_step) for b in branches]
        evals = [b.final - float(b.losses[-1]) for b in branches]
        rows = [row for c in r["choices"] for row in c.rows if row.peak == peak]
        signed = [(row.predicted + float(np.mean(offs)) - grid[row.name].final) / grid[row.name].final for row in rows]
        out.append(f"| {peak:g} | {type(law).__name__} | {' / '.join(errs)} | "
                   f"{' / '.join(f'{o:+.4f}' for o in offs)} | {' / '.join(f'{e:+.4f}' for e in evals)} | "
                   f"{100 * np.mean(signed):+.2f}% | {100 * np.mean(np.abs(signed)):.2f}% |")
    return out


PREFIX_DIVISORS = (8, 6, 4, 3, 2)


def prefixes(grid: dict[str, GridRun], lengths: tuple[int, ...] = (15000, 25000),
             peaks: tuple[float, ...] | None = None, divisors: tuple[int, ...] = PREFIX_DIVISORS) -> list[str]:
    """What a peak's stable run of ``T / d`` updates says of its level at T: the default convex-drop fit of the
    truncated stable run (a constant rate: no drop, ``C`` plays no part) predicts the stable run at T; its signed
    relative error, per length, peak and prefix. A peak without a cooldown branch can be predicted no better than
    this: every configuration's final is its stable level less a drop, and the budget pays the prefix. ``peaks``:
    every peak but the highest (the one a protocol branches first) by default."""
    import warnings

    from lrkit import curves

    out = ["| T | peak | " + " | ".join(f"stable run to T/{d}" for d in divisors) + " |",
           "| ---: | ---: |" + " ---: |" * len(divisors)]
    for length in lengths:
        for peak in PEAKS[1:] if peaks is None else peaks:
            stable = stable_run(grid, peak)
            truth = float(np.interp(length, stable.steps, stable.losses))
            cells = []
            for d in divisors:
                n = length // d
                keep = stable.steps <= n
                run = curves.Run(stable.lrs[:n], stable.steps[keep], stable.losses[keep], f"stable@{peak:g} to {n}")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", curves.CurveFitWarning)
                    law = curves.fit([run], "convex_drop", jackknife=False).law
                predicted = float(law.predict(stable.lrs[:length], [length])[0])
                cells.append(f"{100 * (predicted - truth) / truth:+.2f}%")
            out.append(f"| {length // 1000}k | {peak:g} | " + " | ".join(cells) + " |")
    return out


PREFIX = [
    "",
    "Every configuration at T is its peak's stable level less a cooldown's drop; a peak the protocol does not",
    "branch is predicted from its stable run's prefix. The table is the error of that level alone, the best",
    "such a peak's configurations can do before any error in the drop. At 15k the budget is 22,500 updates and",
    "one cooldown branch costs 15,000 (a branch of a 15,000-update run, the grid's shortest, and the stable",
    "run to its checkpoint: 15,000 whatever the fraction): 7,500 are left, T/2 for one other peak or T/4",
    "each for two. At T/4 the 5e-4 level is off by 2.65%, at T/2 by 0.54%: 1e-3 can be covered (T/2:",
    "-0.17%) but not 5e-4 as well, and a 1e-3 covered so has no second branched peak to carry `C` from.",
    "At 25k (37,500 updates) two branched peaks cost 30,000 and leave T/3.3 for 1e-3 and 1e-4 together, where",
    "1e-4 alone needs T/3 or more (T/4: -0.39%, T/6: -2.81%) and its `C` would be extrapolated (at 50k, the",
    "carry extrapolated to 1e-4 gives 284 against 221 fitted there: that row's 0.41%); 1e-4's own branch is",
    "a 25,000-update run. Tried in scratch and not better: one law across the peaks' stable runs (shared `L0`,",
    "`A, alpha` and a power law of the peak in the noise term: 2.3-6.5% at T on the other peaks; shared `L0,",
    "alpha` with each peak its own `A`: 1.0-2.7%), fitted on 2e-3 to about 0.8 T and the others to T/4 (measured",
    "once; not kept in this script).",
]


EXTRAPOLATION = [
    "",
    "At 50k the three peaks' stable runs end at 13,000 updates and the law carries them 3.8x further: at",
    "50,000 it lies 0.18-0.54% below the stable run, and every other final of each peak is predicted too low",
    "(-0.29% to -0.41% on average, every one of the 27 too low): the miss is one sign, a bias of",
    "the long extrapolation, not scatter. The offset measured on the 15,000-update branches is mostly the",
    "final's own evaluation (0.032-0.038) plus the law's miss at the branch's end, and does not carry the",
    "bias to 50,000. The lowest peak misses most although its stable run misses least: there most of the",
    "miss is in the cooldowns, not the stable part. The same sign as 100M's constant_72000 on the paper's protocol",
    "(-0.26% at 3x), the opposite of 25M's (+0.16%). Measured and not adopted: weighing each point by its",
    "update (`w ~ t` / `t^2`) gives 50k 0.31% / 0.23% but the paper protocol's 25M 0.117% / 0.174% (from",
    "0.100%); one offset for every peak (`--pooled-offset`) 0.34%, coverage 81%; at most two peaks (stable",
    "runs to 25,500) 0.20% of 18 finals with 18 not predicted (was 9): fewer configurations, not better ones.",
]


def _row(r: dict, law: str, protocol: str) -> str:
    """One line of the table."""
    p = r["protocol"]
    others = f"{100 * r['mean_error']:.2f}% of {r['n']}" + (f" ({r['unpredicted']} at peaks not run)"
                                                             if r.get("unpredicted") else "")
    return (
        f"| {r['length'] // 1000}k | {law} | {protocol}: {p.describe()} | {p.cost / r['length']:.2f} | "
        f"{r['seconds']:.0f} s | {r['chosen'].name} | {r['chosen'].final:.4f} | {r['best'].name} "
        f"{r['best'].final:.4f} | {r['regret']:+.4f} | {'yes' if r['beats'] else 'no'} | "
        f"{'yes' if r['decided'] else 'no'} | {others} | {100 * r['coverage']:.0f}% | "
        + (f"{100 * r['half']:.2f}% | " if "half" in r else "- | ")
        + f"{', '.join(r['at_bounds']) or 'none'} |"
    )


def parse_variant(text: str) -> tuple[tuple[float, ...], int | None, bool]:
    """A ``--cover-variants`` entry: fractions joined by '+', ':N' every fraction at the N highest covered peaks
    only, ',branches-first' the branches before the peaks (``peaks_first=False``).

    >>> parse_variant("0.2+0.6:1,branches-first")
    ((0.2, 0.6), 1, False)
    """
    spec, _, order = text.partition(",")
    if order not in ("", "branches-first"):
        raise ValueError(f"--cover-variants: found {text!r}; use e.g. 0.2, 0.2+0.6, 0.2+0.6:1, "
                         "0.2+0.6,branches-first")
    fractions, _, full = spec.partition(":")
    return tuple(float(f) for f in fractions.split("+")), int(full) if full else None, not order


def _branches(fractions: tuple[float, ...], full: int | None = None, peaks_first: bool = True) -> str:
    text = " + ".join(f"{round(100 * f)}%" for f in fractions) + (" branch" if len(fractions) == 1 else " branches")
    if full is not None and len(fractions) > 1:
        text += f" at the highest {full} peak{'s' if full > 1 else ''}, {round(100 * fractions[0])}% at the others"
    if len(fractions) > 1:
        text += ", branches first" if not peaks_first else ", peaks first"
    return text


JACKKNIFE_LABELS = {True: "jackknife (default)", False: "no jackknife",
                    "branches": "jackknife where two branches"}


def _cover_row(r: dict, label: str) -> str:
    """One line of the cover protocol's table (``label``: the variant asked for; the protocol column: what it
    trained)."""
    p = r["protocol"]
    cs = ", ".join(f"{k:g}: {v:.1f}" for k, v in sorted(r["cs"].items(), reverse=True))
    carried = ", ".join(f"{k:g}: {c:.1f} (sd of log {sd:.2f})"
                        for k, (c, sd) in sorted(r["carried"].items(), reverse=True))
    return (
        f"| {r['length'] // 1000}k | {label} | {p.describe()} | {p.cost / r['length']:.2f} | "
        f"{r['seconds']:.0f} s | {r['chosen'].name} | {r['chosen'].final:.4f} | "
        f"{r['best'].name} {r['best'].final:.4f} | "
        f"{r['regret']:+.4f} | {'yes' if r['beats'] else 'no'} | {r['chosen_branched'].name} "
        f"{r['regret_branched']:+.4f} {'beats' if r['beats_branched'] else 'does not beat'} | "
        f"{'yes' if r['decided'] else 'no'} | "
        f"{100 * r['mean_error']:.2f}% | {r['n']} / {r['unpredicted']} | {100 * r['coverage']:.0f}% | "
        f"{100 * r['half']:.2f}% | {cs}{'; carried ' + carried if carried else ''} |"
    )


COVER_TEXT = [
    "The **cover** protocol: a prediction for every configuration at T, not only those at the peaks run",
    "(`python bench/curves_grid.py --diagnose` writes this table with the rest; `--cover-only --lengths T` prints",
    "it alone). Every variant tried is a row, in the order tried; none is left out.",
    "",
    "- **The rule as first stated** (`cover_protocol`, the same at every T, stated before its figures): every",
    "  candidate peak (each peak with a configuration at T), highest first, gets a stable run of at least T/4; as",
    "  many peaks as the budget (1.5 T) allows get ONE cooldown branch (the peak's pilot: its shortest grid run",
    "  with an F linear cooldown, branched from the stable run at (1 - F) of it: 15,000 updates, 25,000 at 1e-4,",
    "  which the grid runs no shorter), the highest and the lowest covered peak first; a covered peak without a",
    "  branch takes the convex drop's `C` carried from the two nearest branched peaks (log C linear in log peak;",
    "  the sd of its log: half the distance to the nearest branched peak's C) and the mean of the branched peaks'",
    "  offsets, fitted as `curves.fit([stable], \"convex_drop\", prior={\"C\": (C, sd)})` with that sd in the",
    "  fit's covariance (the stable run does not inform C); a carried C needs two branched peaks, else fewer",
    "  peaks are covered (the lowest dropped, counted as not predicted); what is left of the budget raises the",
    "  shortest stable runs first. A branched peak: `curves.fit([stable, branch])`, every option default (law",
    "  auto, jackknife), its own offset. F = 20%. The choice: the lowest predicted final over every peak (a",
    "  protocol run of length T kept unless a candidate is predicted below its final by more than the fit's",
    "  noise floor, or where `choose` declines at any peak, as the branch protocol).",
    "- **Its variants**: F = 10%, 40%, 60%; two branches (20% + 60%, the branch protocol's) at every branched",
    "  peak or at the highest covered peak only (20% at the others), first as tried (*branches first*: fewer",
    "  peaks covered where the budget cannot pay both), then *peaks first* (where the first fraction alone",
    "  covers more peaks, it alone); each with the default jackknife (over runs where every left-out fit keeps",
    "  a decay; with one branch, over the halves of each run's points: `curves.selection.jackknife_unit`) and",
    "  with *the jackknife where two branches* (a peak with one branch: its fit's intervals from the Laplace",
    "  covariance alone). The column *chosen among branched peaks*: the",
    "  lowest predicted final at the peaks with their own branches (a carried peak's level rests on the other",
    "  peaks' offsets and its C on theirs).",
    "- \"predicted / not\": configurations at T (the protocol's own runs left out) with a prediction / at peaks",
    "  not covered. Median 95% half-width: of the intervals, relative to the measured final (coverage by wide",
    "  intervals says little).",
    "",
    "| T | variant | protocol | cost (runs of T) | fit | chosen | its final | grid best | regret "
    "| beats both defaults | chosen among branched peaks: regret, defaults | decided | mean error, other finals "
    "| predicted / not | 95% intervals cover | median 95% half-width | C fitted; carried |",
    "| ---: | --- | --- | ---: | ---: | --- | ---: | --- | ---: | :---: | --- | :---: | ---: | ---: | ---: | ---: "
    "| --- |",
]


COVER_WHY = [
    "What the rows show:",
    "",
    "- **C across peaks**: the branched fits give C = 26.7 / 44.7 / 77.3 / 221 at 2e-3 / 1e-3 / 5e-4 / 1e-4",
    "  (50k, 20% branch; 25.9-27.2 / 43.4-46.1 / 74.3-85.0 / 216-233 over every row). The convex bound's noise",
    "  term is in absolute learning-rate units, so the theory alone would keep C the same at every peak;",
    "  measured, C grows as the peak falls (log-slope -0.74, -0.79, -0.65 between neighbours): the drop grows",
    "  like peak^0.25, not like the peak. The carry takes the measured trend (log-log through the two nearest",
    "  branched peaks) and half its correction as the sd: carried to 1e-3 from 2e-3 and 5e-4, 45.4 against",
    "  44.7-46.1 fitted there; extrapolated to 1e-4 from 2e-3 and 1e-3 (two branches each, 50k), 284 against",
    "  221 fitted: that row's 0.41% mean error. Interpolated, the carry works; extrapolated, it does not.",
    "- **The rule as first stated** meets the mean error at 25k / 35k / 50k (0.19% / 0.16% / 0.22%), with every",
    "  configuration predicted at 35k and 50k (20 / 0, 36 / 0; at 50k the stable runs reach 13,666 updates",
    "  and 1e-4's 20,000, against 13,000 for the branch protocol's three peaks and its 0.33%) and 27 / 9 at",
    "  25k (1e-4's only pilot is its 25,000-update run). At 15k the budget (22,500) pays one 15,000-update",
    "  pilot and its stable run: one peak, no second branched peak to carry C from: 6 / 13, 0.38%.",
    "  Its 95% intervals (the default jackknife: with one branch, over the halves of each run's points),",
    "  0.31-0.49% wide, cover 50% / 100% / 90% / 89%. Before that jackknife the fit that left out the only",
    "  branch had no drop to fit and the intervals were 5-7% wide (100% coverage that told nothing apart);",
    "  without any jackknife, 0.23-0.32% wide, they cover 33% / 89% / 70% / 67%. Its choice: the lowest",
    "  prediction is a 1e-3 configuration at 25k, 35k and 50k (+0.0040 / +0.0050 / +0.0016) and WSD 40% at",
    "  15k (+0.0040). Regret met at 50k only.",
    "- **F**: 10% gives 0.56% / 0.29% / 0.20% / 0.18%, 40% 0.32% / 0.21% / 0.28% / 0.28%, 60% 0.29% / 0.29% /",
    "  0.47% / 0.31% (15k / 25k / 35k / 50k). Two branches at every branched peak, branches first, predict",
    "  well where they run (0.12% / 0.20% at 25k / 35k) but only 9 / 27 and 14 / 6 there, and at 50k",
    "  extrapolate C to 1e-4 (0.41%); peaks first, they are the first rule's rows at 25k and 35k.",
    "- **The recommended variant** (found after the figures above, not stated before them): both branches at",
    "  the highest covered peak, whose jackknife then keeps a branch in every left-out fit, 20% at the others,",
    "  peaks first (at 25k the two branches would cost two peaks: 20% alone there, the first rule's row), the",
    "  default jackknife, the choice among the branched peaks: predicted / not 6 / 13, 27 / 9, 20 / 0, 36 / 0;",
    "  mean error 0.29% / 0.19% / 0.23% / 0.22%; 95% intervals 0.60% / 0.47% / 0.77% / 2.01% wide that cover",
    "  83% / 100% / 100% / 97%; its choice +0.0000 / +0.0000 / +0.0000 / +0.0010 from the grid's best. It",
    "  was recommended with the jackknife where two branches until the halves' jackknife replaced the one",
    "  that left out the only branch (that one's 25k coverage: 89%). Its misses: at 15k one peak (6 / 13),",
    "  coverage 83% (the 10% cooldown predicted 0.56% low); at 25k 1e-4's 9 configurations not predicted. At",
    "  15k its choice was 0.0040 behind (WSD 40% predicted 0.0025 below the trained 60% branch, the grid's",
    "  best) until a trained run was kept against predictions within the fit's noise floor of it. The",
    "  choice among branched peaks was adopted after seeing the carried 1e-3 peak's 40% cooldown predicted",
    "  lowest at 25k and 35k (the overall lowest prediction misses by +0.0040 / +0.0050 there): on this grid",
    "  it rests on the highest peak being the best one.",
    "- **For choosing, the branch protocol stays the recommendation** (regret met at every length; at 15k",
    "  both protocols train the same runs, one peak's stable run and 60% branch, and keep that branch);",
    "  the cover protocol is what predicts the other configurations, at the same cost.",
]


def _target(r: dict, label: str) -> str:
    ok = r["regret"] <= 0.003 and r["beats"]
    return (
        f"- {label}, {r['length'] // 1000}k, cost {r['protocol'].cost / r['length']:.2f} runs: the choice within 0.003 "
        f"of the best and better than both defaults: {'**met**' if ok else '**not met**'} (regret {r['regret']:+.4f}); "
        f"other finals within 0.3% mean error: {'**met**' if r['mean_error'] <= 0.003 else '**not met**'} "
        f"({100 * r['mean_error']:.2f}%); 95% intervals cover >= 90%: "
        f"{'**met**' if r['coverage'] >= 0.9 else '**not met**'} ({100 * r['coverage']:.0f}%)"
    )


LAW_LABELS = {"auto": "auto (multi-power or convex drop)",
              "convex_drop": "ConvexDropLaw", "convex_bound": "ConvexBoundLaw", "momentum": "MomentumLaw",
              "multi_power": "MultiPowerLaw"}


def selection(grid: dict[str, GridRun], lengths: tuple[int, ...] = LENGTHS) -> list[str]:
    """What ``law="auto"`` sees and picks: each candidate of ``curves.selection.candidates()``'s leave-one-run-out
    mean error (``held_out_error``, the library's own) on the published curves' three fitted runs and on each
    peak's runs of the grid's branch protocol at every length."""
    from lrkit import curves
    from lrkit.curves.selection import candidates, held_out_error

    chosen = candidates()
    out = ["| fitted runs | " + " | ".join(label for label, _, _ in chosen) + " | picked |",
           "| --- |" + " ---: |" * len(chosen) + " --- |"]
    sets = []
    for size in ("25M", "100M"):
        folder = SHARED / "loss-curves" / size
        if folder.is_dir():
            runs = curves.paper_runs(folder)
            sets.append((f"published {size}: {', '.join(curves.FIT_RUNS)}", [runs[n] for n in curves.FIT_RUNS]))
    for length in lengths:
        proto = branch_protocol(length)
        for peak in proto.peaks:
            sets.append((f"grid {length // 1000}k branches at {peak:g}", branch_runs(grid, proto, peak)))
    for label, runs in sets:
        means = {name: held_out_error(runs, law, method=method) for name, law, method in chosen}
        picked = min(means, key=means.__getitem__)
        out.append(f"| {label} | " + " | ".join(f"{100 * e:.3f}%" for e in means.values()) + f" | {picked} |")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "bench"))
    import harness

    parser = argparse.ArgumentParser(description="lrkit.curves on the 124M schedule grid (Schaipp et al. 2025)")
    parser.add_argument("--grid", type=Path, default=GRID,
                        help="a grid folder of W&B run exports (default: the 124M grid; another model size's folder "
                             "runs the same protocols on it; its results are printed, not written)")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--laws", nargs="+", default=list(LAW_LABELS), choices=list(LAW_LABELS),
                        help="laws run on the branch protocol")
    parser.add_argument("--no-pilots", action="store_true", help="leave out the pilot protocol (the default fit)")
    parser.add_argument("--pooled-offset", action="store_true",
                        help="one offset of the finals over the law for every peak's fit (default: each its own)")
    parser.add_argument("--diagnose", action="store_true", help="also fit every configuration of 1e-3 / 50k in sample")
    parser.add_argument("--cover-variants", nargs="+", default=list(COVER_VARIANTS),
                        help="the cover protocol's branch fractions per branched peak, '+' between two, ':N' every "
                             "fraction at the N highest peaks only, ',branches-first' the branches before covering "
                             "more peaks (the first is the rule, the others its variants)")
    parser.add_argument("--no-cover", action="store_true", help="leave out the cover protocol")
    parser.add_argument("--cover-only", action="store_true",
                        help="only the cover protocol's table (exploring; e.g. with --lengths 50000), not written")
    parser.add_argument("--select", action="store_true",
                        help="only: the laws' leave-one-run-out errors on the fitted runs, to curves_select.md")
    parser.add_argument("--prefixes", action="store_true",
                        help="only: the level at T of stable runs truncated to T/d (what an unbranched peak gets)")
    args = parser.parse_args(argv)
    grid = load(args.grid)
    configure(grid)
    written = Path(args.grid).resolve() == GRID.resolve()  # bench/results hold the 124M grid's figures only
    if args.prefixes:
        print("\n".join([*prefixes(grid), *PREFIX]))
        return 0
    if args.select:
        text = "\n".join([harness.header("Choosing the law by leave-one-run-out error", "numpy", "scipy"),
                          "Mean over the fitted runs of each run's mean error, predicted by the law fitted on the "
                          "others.", "", *selection(grid)])
        if written:
            harness.write("curves_select", text + "\n", quick=False)
        print(text)
        return 0
    out = [harness.header("Choosing a schedule on the 124M grid (Schaipp et al., ICML 2025)", "numpy", "scipy")]
    out += [
        "Two protocols, each the same rule at every length T and at most 1.5 T updates; validation loss after the",
        "warmup fitted by `curves.fit(runs, law)` with every other option default (staged, prior, jackknife);",
        "candidates: every configuration of the grid at T not trained by the protocol (WSD 10-90% linear /",
        "1-sqrt, cosine to 0 / 10%), each with its exact rates, ranked by `curves.choose(fit, candidates, T)` at",
        "95%. A predicted final = the law at T + the offset of `final_val_loss` over the law, measured on the",
        "protocol's own finals (the README: the final's larger validation pass sits ~0.036 above the curve).",
        "",
        f"- **branches** (per peak): the stable run to the checkpoint of a {BRANCH_PILOT:,}-update pilot's "
        f"{round(100 * SHORT)}% cooldown",
        f"  ({round((1 - SHORT) * BRANCH_PILOT):,}) and two cooldown branches from the stable run's checkpoints: "
        f"{round(100 * SHORT)}% and {round(100 * LONG)}% of the pilot",
        "  (`Run.branch`, their finals measured); peaks highest first while the budget allows, what is left",
        "  extends the stable runs; if no peak fits both branches, one peak with the long branch only. One fit",
        "  per peak; the peaks' rankings merged on predicted finals (each fit's offset measured on its own",
        "  branches; the intervals add the spread of every branch's offset; `--pooled-offset`: one offset for",
        "  all peaks); the chosen one: the best protocol run of length T if there is one (its final measured),",
        "  unless `choose` ranked at every peak and a candidate is predicted below that final by more than its",
        "  fit's noise floor (a user neither replaces a measured run by a prediction its fit cannot tell from",
        "  it nor acts on a ranking the tool refused: `pick`); else the lowest prediction. Configurations at",
        "  peaks the protocol did not run are not predicted (counted).",
        f"- **pilots** (the previous protocol): a {PILOT_LENGTH:,}-update WSD-{round(100 * PILOT_FRACTION)}% pilot per "
        "peak, highest first, while the budget allows; what is left: stable runs at the next peaks; one fit of",
        "  every run (one law across peaks).",
        "",
        "| T | law | protocol | cost (runs of T) | fit | chosen | its final | grid best | regret | beats both defaults "
        "| decided | mean error, other finals | 95% intervals cover | median 95% half-width | parameters at a bound |",
        "| ---: | --- | --- | ---: | ---: | --- | ---: | --- | ---: | :---: | :---: | ---: | ---: | ---: | --- |",
    ]
    cover = list(COVER_TEXT)
    first: list[str] = []
    found: list[str] = []
    cover_targets: list[str] = []
    if not args.no_cover:
        for length in args.lengths:
            for i, variant in enumerate(args.cover_variants):
                fractions, full, peaks_first = parse_variant(variant)
                for jackknife in (True, "branches"):
                    r = evaluate_cover(grid, length, fractions, jackknife=jackknife, full=full,
                                       peaks_first=peaks_first)
                    label = f"{_branches(fractions, full, peaks_first)}, {JACKKNIFE_LABELS[jackknife]}"
                    cover.append(_cover_row(r, label))
                    print(cover[-1], flush=True)
                    if i == 0:  # the rule as first stated: the lowest predicted final (a protocol run of length
                        # T kept as the branch protocol keeps it)
                        first.append(_target(r, "the rule as stated, " + label)
                                     + f"; predicted {r['n']}, not predicted {r['unpredicted']}")
                    if variant == COVER_RECOMMENDED and jackknife is True:
                        chosen_among = {**r, "regret": r["regret_branched"], "beats": r["beats_branched"],
                                "chosen": r["chosen_branched"]}
                        found.append(_target(chosen_among, f"recommended, {label}, chosen among the branched peaks "
                                                   f"({chosen_among['chosen'].name})")
                                     + f"; predicted {r['n']}, not predicted "
                                     f"{r['unpredicted']}; median 95% half-width {100 * r['half']:.2f}%; the "
                                     f"lowest prediction overall: {r['chosen'].name} {r['regret']:+.4f}")
    cover_targets = ["The rule as first stated (20% branch):", "", *first, "",
                     f"The recommended variant ({COVER_RECOMMENDED}: found after the first rule's figures):", "",
                     *found]
    if args.cover_only:
        print("\n".join([*cover, "", *cover_targets]))
        return 0
    details, targets = [], []
    for length in args.lengths:
        for law in args.laws:
            r = evaluate_branches(grid, length, law, pooled=args.pooled_offset)
            out.append(_row(r, LAW_LABELS[law], "branches"))
            targets.append(_target(r, f"branches, {LAW_LABELS[law]}"))
            fits = "; ".join(f"{p:g}: {f.law}" for p, f in r["laws"].items())
            details.append(f"- {length // 1000}k, {LAW_LABELS[law]}: {fits}; offsets "
                           + ", ".join(f"{o:+.4f}" for o in r["offsets"]))
        if not args.no_pilots:
            r = evaluate(grid, length)
            r["decided"] = r["choice"].decided
            out.append(_row(r, f"default (auto: {type(r['law']).__name__})", "pilots"))
            targets.append(_target(r, "pilots, the default fit"))
            details.append(f"- {length // 1000}k, pilots, default: {r['law']}; offsets "
                           + ", ".join(f"{o:+.4f}" for o in r["offsets"]))
    out += ["", "Targets (issue 26):", "", *targets, "", "Fitted laws and the offsets of the measured finals:", "",
            *details]
    if not args.no_cover:
        out += ["", "## Every configuration predicted: the cover protocol", "", *cover, "",
                "Targets (issue 26):", "", *cover_targets, "", *COVER_WHY]
    if args.diagnose:
        out += ["", "## In sample: every configuration of 1e-3 at 50,000 fitted at once", "",
                "The error of each law's curve at the last logged validation point (`python bench/curves_grid.py "
                "--diagnose`); joint fit, no prior, points from update 3,000.", ""]
        out += diagnose(grid)
        out += WHY
        out += ["", "## Out of sample at 50,000: where the branch protocol's finals miss", "",
                "The default fit of each peak (`python bench/curves_grid.py --diagnose`).", ""]
        out += extrapolation(grid)
        out += EXTRAPOLATION
        out += ["", "## What the budget lets a peak without a branch be predicted from", "",
                "The default fit of a peak's stable run truncated to T/d, its error at T (`python "
                "bench/curves_grid.py --diagnose`; `--prefixes` alone, not written).", ""]
        out += prefixes(grid)
        out += PREFIX
    text = "\n".join(out)
    print(text)
    if written:
        path = harness.write("curves_grid", text + "\n", quick=False)
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
