"""Law files (``law.json``): a fitted law with the learning-rate scale and units it was fitted in.

A law's parameters take absolute learning rates. The command line reads schedules as text specs
times ``--lr``; the file records that scale (``lr.scale``), so a later ``predict`` / ``rank`` /
``score`` without ``--lr`` reads the specs as the fit did, and the peaks of the fitted runs
(``lr.fitted_peaks``), so a schedule whose peak lies more than :data:`PEAK_FACTOR` times outside
them is refused rather than extrapolated (a spec read at the wrong scale predicts losses of 40).

Files are written whole or not at all (:func:`lrkit.core._io.atomic_write`) and read back
validated whole: the version, every parameter (present, a finite number), the ``lr`` block; a
file of another version is refused.

    {"version": 1, "law": "multi_power", "L0": 3.0, ..., "gamma": 0.6,
     "lr": {"units": "absolute", "scale": 0.0003, "fitted_peaks": [0.0003, 0.0003]},
     "fit": {"runs": [...], "method": "staged", ...}}

>>> import tempfile, pathlib
>>> from lrkit.curves.laws import MultiPowerLaw
>>> path = pathlib.Path(tempfile.mkdtemp()) / "law.json"
>>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
>>> saved = save_law(path, law, lr_scale=3e-4, peaks=(3e-4, 3e-4))
>>> loaded = load_law(path)
>>> loaded.law == law, loaded.lr_scale, loaded.peaks
(True, 0.0003, (0.0003, 0.0003))
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from lrkit.core._io import atomic_write
from lrkit.curves.core import Fit, law_from_dict
from lrkit.curves.intervals import Uncertainty
from lrkit.curves.laws import Law, learning_rates

__all__ = ["PEAK_FACTOR", "VERSION", "LawFile", "law_file_from_dict", "load_law", "save_law"]

#: The law-file version this lrkit writes and reads.
VERSION = 1
#: A schedule whose peak is more than this factor above the largest (or below the smallest) fitted peak is refused.
PEAK_FACTOR = 10.0


@dataclass(frozen=True)
class LawFile:
    """A law with the scale its specs were read at (``lr_scale``) and the peak rates of its fitted runs.

    >>> from lrkit.curves import LawFile, MultiPowerLaw
    >>> file = LawFile(MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6), peaks=(1e-4, 3e-4))
    >>> data = file.to_dict()
    >>> data["law"], data["L0"], data["lr"]
    ('multi_power', 3.0, {'units': 'absolute', 'scale': 1.0, 'fitted_peaks': [0.0001, 0.0003]})
    """

    law: Law
    lr_scale: float = 1.0
    peaks: tuple[float, float] | None = None
    fit: Mapping[str, Any] = field(default_factory=dict)
    #: the fitted parameters' uncertainty (:class:`lrkit.curves.Uncertainty`), which intervals are computed from
    uncertainty: Uncertainty | None = None

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON object."""
        lr = {
            "units": "absolute",
            "scale": self.lr_scale,
            "fitted_peaks": None if self.peaks is None else list(self.peaks),
        }
        out: dict[str, Any] = {"version": VERSION, **self.law.to_dict(), "lr": lr}
        if self.fit:
            out["fit"] = _json_safe(dict(self.fit))
        if self.uncertainty is not None:
            out["uncertainty"] = self.uncertainty.to_dict()
        return out

    def check(self, schedule: Any, updates: int, where: str = "schedule", absolute: bool = False) -> float:
        """The peak rate of ``schedule`` over ``updates`` updates, refused (``ValueError``) when it lies more than
        :data:`PEAK_FACTOR` times outside the fitted runs' peaks (``absolute``: the schedule was given in absolute
        rates, not times the file's scale, and the refusal says so)."""
        rates = learning_rates(schedule, updates)
        peak = float(rates.max(initial=0.0))
        if peak <= 0:
            raise ValueError(f"{where}: its rate is 0 at every update up to {updates}; nothing moves the loss")
        if self.peaks is None:
            return peak
        low, high = self.peaks
        if peak > high * PEAK_FACTOR or peak < low / PEAK_FACTOR:
            ratio = peak / high if peak > high else low / max(peak, 1e-300)
            side = "above the largest" if peak > high else "below the smallest"
            scale = (
                f"it is in absolute learning rates: multiply it by its peak, as in '(SPEC) * {self.lr_scale:g}', the "
                "scale the law's specs were read at"
                if absolute
                else f"its specs were read times --lr {self.lr_scale:g} when it was fitted, the scale used when --lr "
                "is left out"
            )
            raise ValueError(
                f"{where}: its peak learning rate {peak:.4g} is {ratio:,.4g}x {side} peak the law was fitted on "
                f"({low:.4g}-{high:.4g}) and does not extrapolate that far ({scale})"
            )
        return peak


def _json_safe(value: Any) -> Any:
    """``value`` with every non-finite float as ``None`` (the file is strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (np.floating, np.integer)):
        return _json_safe(value.item())
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{where} must be a finite number > 0, got {value!r}")
    return float(value)


def law_file_from_dict(data: Any, where: str = "law file") -> LawFile:
    """A :class:`LawFile` from its JSON object, validated whole (``ValueError`` naming the key otherwise)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: must hold a JSON object, got {type(data).__name__}")
    if "version" not in data:
        raise ValueError(
            f"{where}: no 'version' (written by an older lrkit, without the learning-rate scale it was fitted at); "
            "fit it again with `lrkit curve fit ... -o law.json`"
        )
    version = data["version"]
    if version != VERSION or isinstance(version, bool):
        raise ValueError(f"{where}: version {version!r} is not one this lrkit reads (version {VERSION}); upgrade lrkit")
    try:  # the law's name, its parameters, and no key besides them, 'version', 'lr', 'fit' and 'uncertainty'
        law = law_from_dict({k: v for k, v in data.items() if k not in ("version", "lr", "fit", "uncertainty")})
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None
    lr = data.get("lr")
    if not isinstance(lr, Mapping):
        raise ValueError(f"{where}: 'lr' must be an object with 'units', 'scale' and 'fitted_peaks', got {lr!r}")
    extra = [k for k in lr if k not in ("units", "scale", "fitted_peaks")]
    if extra:
        raise ValueError(f"{where}: unknown key 'lr.{extra[0]}'")
    for key in ("units", "scale", "fitted_peaks"):
        if key not in lr:
            raise ValueError(f"{where}: 'lr.{key}' is missing")
    if lr["units"] != "absolute":
        raise ValueError(f"{where}: 'lr.units' must be 'absolute' (the law's rates), got {lr['units']!r}")
    scale = _positive(lr["scale"], f"{where}: 'lr.scale'")
    peaks = lr["fitted_peaks"]
    if peaks is not None:
        if not isinstance(peaks, list) or len(peaks) != 2:
            raise ValueError(f"{where}: 'lr.fitted_peaks' must be [lowest, highest] or null, got {peaks!r}")
        low = _positive(peaks[0], f"{where}: 'lr.fitted_peaks[0]'")
        high = _positive(peaks[1], f"{where}: 'lr.fitted_peaks[1]'")
        if low > high:
            raise ValueError(f"{where}: 'lr.fitted_peaks' must be [lowest, highest], got {peaks!r}")
        peaks = (low, high)
    fit = data.get("fit", {})
    if not isinstance(fit, Mapping):
        raise ValueError(f"{where}: 'fit' must be an object, got {type(fit).__name__}")
    uncertainty = None
    if data.get("uncertainty") is not None:
        if not isinstance(data["uncertainty"], Mapping):
            raise ValueError(f"{where}: 'uncertainty' must be an object, got {type(data['uncertainty']).__name__}")
        try:
            uncertainty = Uncertainty.from_dict(data["uncertainty"]).check(law)
        except (TypeError, ValueError, KeyError) as err:
            raise ValueError(f"{where}: 'uncertainty': {err}") from None
    return LawFile(law=law, lr_scale=scale, peaks=peaks, fit=fit, uncertainty=uncertainty)


def save_law(
    path: str | Path,
    fitted: Fit | Law,
    *,
    lr_scale: float = 1.0,
    peaks: tuple[float, float] | None = None,
) -> LawFile:
    """Write a fitted law (a :class:`Fit`, or a :class:`Law` with ``peaks`` if known) to ``path``, atomically.

    ``lr_scale`` is what the fit's schedule specs were multiplied by (the command line's ``--lr``);
    ``peaks`` default to the lowest and highest peak rate of a fit's runs.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from lrkit.curves import MultiPowerLaw, load_law, save_law
    >>> path = Path(tempfile.mkdtemp()) / "law.json"
    >>> law = MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6)
    >>> save_law(path, law, peaks=(3e-4, 3e-4)).peaks
    (0.0003, 0.0003)
    >>> load_law(path).law == law
    True
    """
    if isinstance(fitted, Fit):
        law: Law = fitted.law
        info = fitted.to_dict().get("fit", {})
        uncertainty = fitted.uncertainty
        if peaks is None:
            tops = [float(r.lrs.max(initial=0.0)) for r in fitted.runs]
            peaks = (min(tops), max(tops))
    elif isinstance(fitted, Law):
        law, info, uncertainty = fitted, {}, None
    else:
        raise ValueError(f"fitted: give a Fit (curves.fit(...)) or a Law, got {type(fitted).__name__}")
    if not isinstance(path, (str, PathLike)):
        raise ValueError(f"path: expected a file path such as 'law.json', got {type(path).__name__} {path!r:.60}")
    if Path(path).is_dir():
        raise ValueError(f"path: {str(path)!r} is a folder; give a file name such as law.json")
    if not Path(path).parent.is_dir():
        raise ValueError(f"path: folder {str(Path(path).parent)!r} does not exist")
    saved = LawFile(law, _positive(lr_scale, "lr_scale"), None if peaks is None else _peaks(peaks), info, uncertainty)
    text = json.dumps(saved.to_dict(), indent=2, allow_nan=False) + "\n"
    law_file_from_dict(json.loads(text), f"law file {str(path)!r}")  # what is written reads back
    with atomic_write(path) as out:
        out.write(text)
    return saved


def _peaks(peaks: Any) -> tuple[float, float]:
    if isinstance(peaks, (str, bytes)) or not isinstance(peaks, (list, tuple, np.ndarray)) or len(peaks) != 2:
        raise ValueError(f"peaks must be (lowest, highest), got {peaks!r:.60}")
    low, high = (_positive(p, "peaks") for p in peaks)
    if low > high:
        raise ValueError(f"peaks must be (lowest, highest), got {peaks!r}")
    return low, high


def load_law(path: str | Path) -> LawFile:
    """Read a law file written by :func:`save_law` (``lrkit curve fit -o``), validated whole.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from lrkit.curves import MultiPowerLaw, load_law, save_law
    >>> path = Path(tempfile.mkdtemp()) / "law.json"
    >>> _ = save_law(path, MultiPowerLaw(3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6), lr_scale=2.0)
    >>> file = load_law(path)
    >>> file.law.name, file.lr_scale, file.peaks
    ('multi_power', 2.0, None)
    """
    if not isinstance(path, (str, PathLike)):
        raise ValueError(f"path: expected a law file's path, got {type(path).__name__} {path!r:.60}")
    p = Path(path)
    where = f"law file {str(path)!r}"
    if p.is_dir():
        raise ValueError(f"{where} is a folder; give the law file in it (written by `lrkit curve fit ... -o law.json`)")
    if not p.is_file():
        raise ValueError(f"{where} does not exist (write one with `lrkit curve fit ... -o law.json`)")
    try:  # a byte-order mark (a file saved by an editor on Windows) is skipped, as the run readers skip it
        data = json.loads(p.read_text(encoding="utf-8-sig"), parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: not JSON ({err.msg}, line {err.lineno})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{where}: not a text file") from None
    except ValueError as err:  # NaN / Infinity
        raise ValueError(f"{where}: {err}") from None
    except OSError as err:
        raise ValueError(f"{where}: cannot be read ({err.strerror or err})") from None
    return law_file_from_dict(data, where)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a law file may hold")
