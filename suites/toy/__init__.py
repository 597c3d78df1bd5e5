"""Fast 2-D point-robot suites (pure numpy) for tests and demos."""

from suites.toy.point import (
    PointGoalNonStationarySuite,
    PointGoalSuite,
    MultiPointTask,
    PointMultiTaskSuite,
    PointTask,
)

__all__ = [
    "PointGoalNonStationarySuite",
    "PointGoalSuite",
    "MultiPointTask",
    "PointMultiTaskSuite",
    "PointTask",
]
