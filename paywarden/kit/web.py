"""Request plumbing: the per-request database session and the caller's address."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit.errors import AppError


class DbRoute(APIRoute):
    """Opens a session for the request and commits it before the response leaves.

    The commit happens here rather than in a yield-dependency so that a response is never sent
    for work that then fails to commit. An AppError rolls back unless it says `keep_changes`.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_session(request: Request) -> Response:
            async with request.app.state.db.sessions() as session:
                request.state.session = session
                try:
                    response = await handler(request)
                except AppError as exc:
                    await (session.commit() if exc.keep_changes else session.rollback())
                    raise
                except BaseException:
                    await session.rollback()
                    raise
                await session.commit()
                return response

        return with_session


async def _session(request: Request) -> AsyncSession:
    # async on purpose: FastAPI runs a sync dependency in a thread, a hop per request.
    return request.state.session


Session = Annotated[AsyncSession, Depends(_session)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:512]
