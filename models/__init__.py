"""Pure models: Redis as a state machine, lock algorithms as effect generators."""
