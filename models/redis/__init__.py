"""Redis as a pure, deterministic model (see ``model.RedisModel``)."""

from models.redis.model import Delivery, Outcome, RedisModel, Served
from models.redis.reply import BLOCKED, OK, Reply, ReplyError, Status

__all__ = [
    "BLOCKED",
    "OK",
    "Delivery",
    "Outcome",
    "RedisModel",
    "Reply",
    "ReplyError",
    "Served",
    "Status",
]
