"""The field report locksim reproduces: its system and its table 7.1.

"Redis 분산락 동시성 제어 분석 보고서" (Redis distributed lock: an analysis of
concurrency control), tested 2025-12-03 (``../shared/seed/``, Korean original plus an
English digest). It load-tested
a NestJS coupon service guarded by a Redis pub/sub lock and captured MONITOR.
These are its measured figures, which ``locksim run`` prints beside its own.
"""

from __future__ import annotations

TITLE = "Redis 분산락 동시성 제어 분석 보고서"  # Redis distributed lock: concurrency control
TESTED = "2025-12-03"

REPORT = {
    "issued": 957,
    "duration_s": 12.0,
    "throughput_rps": 80.0,
    "hold_mean_ms": 8.0,
    "hold_min_ms": 6.0,
    "hold_max_ms": 80.0,
    "set_nx_attempts": 99_050,
    "attempts_per_success": 99_050 / 957,
    "publish": 957,
    "split": "485 / 472 (51% / 49%)",
}
