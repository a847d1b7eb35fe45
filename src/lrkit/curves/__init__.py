"""Loss-curve laws: predict a training run's loss curve from its learning-rate schedule, and choose the schedule.

Fit a law (the multi-power law of Luo et al. 2025, the momentum law of Tissue et al. 2024, or the
convex last-iterate bound of Schaipp et al. 2025)
on a few runs, then predict any other schedule's curve, rank candidates at a budget, or
optimise a schedule. numpy and scipy only; matplotlib for :func:`plot`.

>>> import lrkit as lk
>>> from lrkit import curves
>>> runs = curves.paper_runs()  # the published 25M curves, shipped with lrkit
>>> result = curves.fit([runs[n] for n in curves.FIT_RUNS])  # the law with the lowest leave-one-run-out error
>>> s = curves.score(result.law, [runs[n] for n in curves.PREDICT_RUNS])
>>> s.run_mean_error < 0.0011, s.worst_error < 0.012, s.min_r2 > 0.99
(True, True, True)
>>> print(curves.rank(result.law, {"cosine": curves.paper_schedule("cosine_24000")[0],
...                                "constant": curves.paper_schedule("constant_24000")[0]}, 24000).table())
| rank | schedule | predicted loss at 24,000 | vs best |
| ---: | --- | ---: | ---: |
| 1 | cosine | 3.3120 | +0.0000 |
| 2 | constant | 3.3483 | +0.0363 |
"""

from lrkit.curves.choose import Candidate, Choice, Row, choose, family
from lrkit.curves.convex import ConvexBoundLaw, ConvexDropLaw
from lrkit.curves.core import CurveFitWarning, Fit, Ranking, Run, RunScore, Score, fit, law_from_dict, rank, score
from lrkit.curves.data import FIT_RUNS, PAPER_NAMES, PREDICT_RUNS, paper_runs, paper_schedule, write_run
from lrkit.curves.intervals import Uncertainty, interval
from lrkit.curves.lawfile import LawFile, load_law, save_law
from lrkit.curves.laws import LAWS, CurvePredictionWarning, Law, MomentumLaw, MultiPowerLaw, learning_rates
from lrkit.curves.optimize import Optimized, optimize
from lrkit.curves.plot import plot, plot_choice
from lrkit.curves.readers import FORMATS, RunFileWarning, read_log, read_run

__all__ = [
    "FIT_RUNS",
    "FORMATS",
    "LAWS",
    "PAPER_NAMES",
    "PREDICT_RUNS",
    "Candidate",
    "Choice",
    "ConvexBoundLaw",
    "ConvexDropLaw",
    "CurveFitWarning",
    "CurvePredictionWarning",
    "Fit",
    "Law",
    "LawFile",
    "MomentumLaw",
    "MultiPowerLaw",
    "Optimized",
    "Ranking",
    "Run",
    "Row",
    "RunFileWarning",
    "RunScore",
    "Score",
    "Uncertainty",
    "choose",
    "family",
    "fit",
    "interval",
    "law_from_dict",
    "learning_rates",
    "load_law",
    "optimize",
    "paper_runs",
    "paper_schedule",
    "plot",
    "plot_choice",
    "rank",
    "read_log",
    "read_run",
    "save_law",
    "score",
    "write_run",
]
