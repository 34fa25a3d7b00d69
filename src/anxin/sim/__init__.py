"""City simulator (城市模拟器): contract-v1 data for a city of stations, honest or not,
with the ground truth beside it and the evaluation of a checker run against it."""

from anxin.sim.city import City
from anxin.sim.evaluate import EvalReport, evaluate, render_evaluation
from anxin.sim.scenarios import ScenarioSet
from anxin.sim.truth import truth_dir_for
from anxin.sim.writer import SimSummary, simulate

__all__ = [
    "City",
    "EvalReport",
    "ScenarioSet",
    "SimSummary",
    "evaluate",
    "render_evaluation",
    "simulate",
    "truth_dir_for",
]
