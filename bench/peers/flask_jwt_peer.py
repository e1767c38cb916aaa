"""Flask peer: flask-jwt-extended as its docs set it up: the Redis blocklist
(``token_in_blocklist_loader``, one GET) and automatic user loading (``user_lookup_loader``
on Flask-SQLAlchemy). The refresh endpoint is the docs' one, made to rotate: it also
returns a new refresh token and puts the presented one in the blocklist. The refresh token
is read from the JSON body (the docs' "json" token location), as the rendered service reads
it, so that wrk sends both the same request.

Environment: BENCH_SECRET, BENCH_REDIS_URL, BENCH_DATABASE, BENCH_EMAIL, BENCH_PASSWORD.
"""

import os
from datetime import timedelta

import redis
from flask import Flask, jsonify, request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    current_user,
    get_jwt,
    jwt_required,
)
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

ACCESS_EXPIRES = timedelta(minutes=15)
REFRESH_EXPIRES = timedelta(days=7)


class Base(DeclarativeBase):
    pass


app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = os.environ["BENCH_SECRET"]
app.config["JWT_ACCESS_TOKEN_EXPIRES"] = ACCESS_EXPIRES
app.config["JWT_REFRESH_TOKEN_EXPIRES"] = REFRESH_EXPIRES
app.config["JWT_TOKEN_LOCATION"] = ["headers", "json"]
app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{os.environ['BENCH_DATABASE']}"
db = SQLAlchemy(app, model_class=Base)
jwt = JWTManager(app)
jwt_redis_blocklist = redis.StrictRedis.from_url(
    os.environ["BENCH_REDIS_URL"], decode_responses=True
)


class User(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(unique=True)
    password_hash: Mapped[str]


@jwt.user_identity_loader
def user_identity_lookup(user: User) -> str:
    return str(user.id)


@jwt.user_lookup_loader
def user_lookup_callback(_jwt_header: dict, jwt_data: dict) -> User | None:
    return db.session.execute(
        db.select(User).filter_by(id=int(jwt_data["sub"]))
    ).scalar_one_or_none()


@jwt.token_in_blocklist_loader
def check_if_token_is_revoked(_jwt_header: dict, jwt_payload: dict) -> bool:
    return jwt_redis_blocklist.get(jwt_payload["jti"]) is not None


@app.post("/login")
def login():
    email, password = request.json.get("email"), request.json.get("password")
    user = db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()
    if user is None or not check_password_hash(user.password_hash, password):
        return jsonify("Wrong email or password"), 401
    return jsonify(
        access_token=create_access_token(identity=user),
        refresh_token=create_refresh_token(identity=user),
    )


@app.post("/refresh")
@jwt_required(refresh=True)
def refresh():
    jwt_redis_blocklist.set(get_jwt()["jti"], "", ex=REFRESH_EXPIRES)
    return jsonify(
        access_token=create_access_token(identity=current_user),
        refresh_token=create_refresh_token(identity=current_user),
    )


@app.get("/me")
@jwt_required()
def me():
    return jsonify(id=current_user.id, email=current_user.email)


def setup() -> None:
    with app.app_context():
        db.create_all()
        password_hash = generate_password_hash(os.environ["BENCH_PASSWORD"])
        db.session.add(User(email=os.environ["BENCH_EMAIL"], password_hash=password_hash))
        db.session.commit()


def create():
    from serve import wsgi

    return wsgi(app)
