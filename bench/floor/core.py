"""The floor's work: the least any revocable check can do. A PyJWT HS256 decode with the
algorithm pinned, one Redis GET (the session is live) and one SELECT by primary key, all
synchronous (redis-py, sqlite3).

Environment: BENCH_SECRET, BENCH_REDIS_URL, BENCH_DATABASE (a SQLite file).
"""

import os
import sqlite3
import threading
import time
import uuid

import jwt
import redis

SECRET = os.environ["BENCH_SECRET"]
store = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
local = threading.local()  # sqlite3 connections belong to one thread


def setup() -> None:
    with sqlite3.connect(os.environ["BENCH_DATABASE"]) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE)")
        db.execute("INSERT INTO users VALUES (1, ?)", (os.environ["BENCH_EMAIL"],))


def issue() -> dict:
    """An access token for user 1 and its live session."""
    jti = uuid.uuid4().hex
    store.set(f"floor:{jti}", "1", ex=3600)
    claims = {"sub": "1", "jti": jti, "exp": int(time.time()) + 3600}
    return {"access_token": jwt.encode(claims, SECRET, algorithm="HS256")}


def current_user(authorization: str | None) -> dict | None:
    if not authorization or not authorization.startswith("Bearer "):
        return None
    try:
        claims = jwt.decode(authorization[7:], SECRET, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        return None
    if store.get(f"floor:{claims['jti']}") is None:
        return None
    if not hasattr(local, "db"):
        local.db = sqlite3.connect(os.environ["BENCH_DATABASE"])
    row = local.db.execute("SELECT id, email FROM users WHERE id = ?", (claims["sub"],)).fetchone()
    return {"id": row[0], "email": row[1]} if row else None
