"""The ``locksim`` command: a thin face over the wings."""
