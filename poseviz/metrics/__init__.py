"""Pose metrics: ``functional`` holds pure functions (torch or numpy in, same type out);
the accumulating classes here reuse the same update/compute code, break results down by
metadata and reduce under ``torch.distributed``; `EvaluationSuite` bundles everything
``poseviz evaluate`` reports. ``correlation`` validates a metric against MOS.
"""

from poseviz.metrics.base import GROUP_FIELDS, SEVERITIES, Metric, MetricReport
from poseviz.metrics.classes import (
    BSLE,
    LSE,
    MPJPE,
    MPJVE,
    NMPJPE,
    PCK3DHP,
    PMPJPE,
    AccelerationError,
    DepthOrderAccuracy,
    PositionError,
    PSIMPlus,
)
from poseviz.metrics.suite import EvaluationSuite
from poseviz.metrics.tables import Table

__all__ = [
    "BSLE",
    "GROUP_FIELDS",
    "LSE",
    "MPJPE",
    "MPJVE",
    "NMPJPE",
    "PCK3DHP",
    "PMPJPE",
    "SEVERITIES",
    "AccelerationError",
    "DepthOrderAccuracy",
    "EvaluationSuite",
    "Metric",
    "MetricReport",
    "PSIMPlus",
    "PositionError",
    "Table",
]
