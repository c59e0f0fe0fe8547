"""Connecting to Ray: in-process on this machine's CPUs by default, or an existing cluster.

``address=None`` starts Ray inside this process (``num_cpus`` = this machine's cores, no
dashboard, worker output not forwarded); ``"auto"`` joins the cluster started on this
machine by ``ray start --head``; ``"HOST:PORT"`` or ``"ray://HOST:10001"`` (Ray Client)
reaches one elsewhere. Ray is imported inside the functions only.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from spikerl.runs.errors import RunInputError


class RayConnectError(RunInputError):
    """The Ray cluster at ``--address`` cannot be reached (one-line message)."""


def _host_port(address: str) -> tuple[str, int] | None:
    """``"ray://h:p"`` or ``"h:p"`` -> ``(h, p)``; ``None`` for ``"auto"``/``"local"``.

    Raises:
        RayConnectError: for an address that is none of these forms.
    """
    if address in ("auto", "local"):
        return None
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise RayConnectError(
            f"--address {address!r}: expected 'auto', 'HOST:PORT' or 'ray://HOST:PORT'"
        )
    return host, int(port)


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast (one TCP connect) when ``address`` names a host and port nobody listens on.

    Raises:
        RayConnectError: naming the address and the reason.
    """
    hp = _host_port(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=timeout_s):
            pass
    except OSError as exc:
        raise RayConnectError(
            f"--address {address}: no Ray cluster reachable at {hp[0]}:{hp[1]} ({exc}); "
            "start one with `ray start --head` or drop --address to run on this machine"
        ) from exc


def prepare_env(address: str | None) -> None:
    """Environment settings Ray reads when it is imported: call before ``import ray``.

    Quiet output, and for a Ray Client address (``ray://``) token authentication when a
    token is at hand (:func:`_client_token_auth`).
    """
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if address is not None and address.startswith("ray://"):
        _client_token_auth()


def _client_token_auth() -> None:
    """Ray Client sends the cluster's auth token only with ``RAY_AUTH_MODE=token``: set it
    when a token is at hand (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or Ray's default
    ``~/.ray/auth_token``, which ``ray start`` writes) and the mode is not chosen already.
    Ray >= 2.5x turns token authentication on for new clusters by default."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(path):
        os.environ["RAY_AUTH_MODE"] = "token"


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Ray connected for the duration of a ``with`` block (shut down afterwards).

    Args:
        address: ``None`` for an in-process Ray on this machine, otherwise a cluster address
            (``"auto"``, ``"HOST:PORT"``, ``"ray://HOST:10001"``).
        num_cpus: CPUs of the in-process Ray (default: ``os.cpu_count()``); ignored with
            ``address`` (the cluster's nodes declare their own).

    Raises:
        RayConnectError: when the cluster cannot be reached.
    """
    prepare_env(address)
    import ray

    if address is not None:
        check_reachable(address)
    if ray.is_initialized():  # a caller (a test, a notebook) already connected: reuse it
        yield
        return
    if address is None:
        ray.init(
            num_cpus=num_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            configure_logging=True,
        )
    else:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, TimeoutError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            hint = (
                "; a cluster with token authentication needs its token here "
                "(RAY_AUTH_TOKEN or ~/.ray/auth_token)"
                if address.startswith("ray://")
                else ""
            )
            raise RayConnectError(
                f"--address {address}: cannot connect to Ray ({first}){hint}"
            ) from exc
    try:
        yield
    finally:
        ray.shutdown()
