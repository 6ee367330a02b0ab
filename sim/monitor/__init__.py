"""MONITOR captures: parse them, replay them through the Redis model, write them."""
