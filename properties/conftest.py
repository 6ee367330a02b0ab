"""Hypothesis profiles for the property suites: ``ci``, ``dev`` and ``nightly``.

Pick one with ``pytest properties/ --hypothesis-profile=nightly`` (or the
``LOCKSIM_PROFILE`` variable); the default is ``ci`` under CI and ``dev``
elsewhere. ``ci`` is derandomized with a fixed budget, so it cannot flake.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_common = {"deadline": None, "suppress_health_check": list(HealthCheck), "print_blob": True}
settings.register_profile("ci", max_examples=150, derandomize=True, database=None, **_common)
settings.register_profile("dev", max_examples=150, **_common)
settings.register_profile("nightly", max_examples=5000, **_common)
settings.load_profile(os.environ.get("LOCKSIM_PROFILE")
                      or ("ci" if os.environ.get("CI") else "dev"))
