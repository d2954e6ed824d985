"""Pose metrics: ``functional`` holds pure functions (torch or numpy in, same type out);
the accumulating classes reuse the same update/compute code. ``correlation`` validates a
metric against MOS.
"""
