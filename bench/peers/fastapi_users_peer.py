"""FastAPI peer: fastapi-users as its docs' full example sets it up, with the Redis
strategy (an opaque token: one GET, then the user by id through async SQLAlchemy on
aiosqlite) and ``GET /users/me`` from its users router. It has no refresh.

Environment: BENCH_SECRET, BENCH_REDIS_URL, BENCH_DATABASE (a SQLite file).
"""

import asyncio
import os
import uuid
from collections.abc import AsyncGenerator

import redis.asyncio
from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, RedisStrategy
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

SECRET = os.environ["BENCH_SECRET"]


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserUpdate(schemas.BaseUserUpdate):
    pass


engine = create_async_engine(f"sqlite+aiosqlite:///{os.environ['BENCH_DATABASE']}")
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def get_async_session() -> AsyncGenerator[AsyncSession, None]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(session: AsyncSession = Depends(get_async_session)):  # noqa: B008
    yield SQLAlchemyUserDatabase(session, User)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db: SQLAlchemyUserDatabase = Depends(get_user_db)):  # noqa: B008
    yield UserManager(user_db)


redis_client = redis.asyncio.from_url(os.environ["BENCH_REDIS_URL"], decode_responses=True)


def get_redis_strategy() -> RedisStrategy:
    return RedisStrategy(redis_client, lifetime_seconds=3600)


auth_backend = AuthenticationBackend(
    name="redis",
    transport=BearerTransport(tokenUrl="auth/redis/login"),
    get_strategy=get_redis_strategy,
)
fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])


def setup() -> None:
    async def create_tables() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)

    asyncio.run(create_tables())


def create() -> FastAPI:
    app = FastAPI()
    app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/redis")
    app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth")
    app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users")
    return app
