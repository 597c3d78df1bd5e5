"""Fast 2-D point-robot suites (pure numpy) for tests and demos."""

from suites.toy.point import (
    MultiPointTask,
    PointGoalNonStationarySuite,
    PointGoalSuite,
    PointMultiTaskSuite,
    PointTask,
)

__all__ = [
    "MultiPointTask",
    "PointGoalNonStationarySuite",
    "PointGoalSuite",
    "PointMultiTaskSuite",
    "PointTask",
]
