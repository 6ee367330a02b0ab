"""Everything under ``tests/real/`` starts a real redis-server: mark it so.

Marked as each item is collected, before ``-m "not real_redis"`` deselects.
"""

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.real_redis)
