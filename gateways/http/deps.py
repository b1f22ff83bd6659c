"""Request dependencies: the container and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateways.auth import AuthError, Principal, read_token
from gateways.bootstrap import Container
from gateways.http.problems import Problem


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_principal(request: Request, container: ContainerDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("send 'Authorization: Bearer <token>' (see `lienthong token`)")
    return read_token(container.keyring.jwt_secrets, token.strip())


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise Problem(
            403,
            "Forbidden",
            f"role '{principal.role}' may not do this (needs {' or '.join(roles)})",
            "forbidden",
        )
