"""The real world: redis-server processes, worker processes, the coordinator.

The only wing that imports ``redis``, ``asyncio``, ``signal``, ``subprocess``
or reads real clocks (``tests/unit/test_layers.py`` checks it).
"""
