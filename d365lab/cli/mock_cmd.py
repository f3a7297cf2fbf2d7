"""``d365lab mock serve`` and ``d365lab mock reset``: the embedded mock tenant from the shell."""

from __future__ import annotations

import typer

mock_app = typer.Typer(name="mock", help="Run or reset the local mock Dataverse tenant.", no_args_is_help=True)


@mock_app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="TCP port (1-65535)."),
    db: str | None = typer.Option(None, "--db", help="SQLite file or :memory: (default: the embedded tenant's file)."),
    token: str | None = typer.Option(None, "--token", envvar="D365LAB_MOCK_TOKEN", show_envvar=True,
                                     help="Bearer token to require (default: accept any token). Prefer the "
                                          "environment variable: a --token value is visible in the process list."),
    allow_remote: bool = typer.Option(False, "--allow-remote",
                                      help="Allow a non-loopback --host (requires --token)."),
    user_timezone: str | None = typer.Option(
        None, "--user-timezone", help="The mock user's Dataverse time zone: an IANA name (Europe/Paris) or a "
                                      "timezonecode (105). Default: a new tenant's user is in Europe/Paris."),
    throttle: bool = typer.Option(False, "--throttle", envvar="D365LAB_MOCK_THROTTLE",
                                  help="Enforce service-protection limits (429 with Retry-After)."),
    throttle_requests: int | None = typer.Option(
        None, "--throttle-requests", min=1, envvar="D365LAB_MOCK_THROTTLE_REQUESTS",
        help="Requests per window and caller (default 6000; implies --throttle)."),
    throttle_window: float | None = typer.Option(
        None, "--throttle-window", min=0.001, envvar="D365LAB_MOCK_THROTTLE_WINDOW",
        help="Window length in seconds (default 300; implies --throttle)."),
    throttle_execution_ms: int | None = typer.Option(
        None, "--throttle-execution-ms", min=1, envvar="D365LAB_MOCK_THROTTLE_EXECUTION_MS",
        help="Combined execution time per window in ms (default 1200000; implies --throttle)."),
    throttle_concurrent: int | None = typer.Option(
        None, "--throttle-concurrent", min=1, envvar="D365LAB_MOCK_THROTTLE_CONCURRENT",
        help="Concurrent requests per caller (default 52; implies --throttle)."),
    fault_error_rate: float = typer.Option(
        0.0, "--fault-error-rate", min=0.0, max=1.0, envvar="D365LAB_MOCK_FAULT_ERROR_RATE",
        help="Probability of answering 503 instead of running a request."),
    fault_drop_rate: float = typer.Option(
        0.0, "--fault-drop-rate", min=0.0, max=1.0, envvar="D365LAB_MOCK_FAULT_DROP_RATE",
        help="Probability of dropping the connection (before or after the request ran)."),
    fault_latency_ms: float = typer.Option(
        0.0, "--fault-latency-ms", min=0.0, envvar="D365LAB_MOCK_FAULT_LATENCY_MS",
        help="Latency added to every request, in milliseconds."),
    fault_seed: int = typer.Option(0, "--fault-seed", envvar="D365LAB_MOCK_FAULT_SEED",
                                   help="Seed of the fault injection (same seed, same faults)."),
    cost_model: str = typer.Option(
        "none", "--cost-model", envvar="D365LAB_MOCK_COST_MODEL",
        help="Server cost model: none (as fast as it can) or realistic (server time per message, "
             "service protection on; see docs/mock-tenant.md)."),
    cost_scale: float = typer.Option(
        1.0, "--cost-scale", min=0.0001, envvar="D365LAB_MOCK_COST_SCALE",
        help="Multiply every modelled time and every limit window by this factor (0.1: ten times faster)."),
) -> None:
    """Serve the mock tenant's Web API at http://HOST:PORT/api/data/v9.2/ until Ctrl+C."""
    from d365lab.mock.app import ExtensionError
    from d365lab.mock.cost_settings import with_cost_model
    from d365lab.mock.server import MockDatabaseError, PortInUseError, serve
    from d365lab.mock.settings import MockSettings
    from d365lab.mock.timezones import resolve

    if user_timezone is not None:
        try:
            resolve(user_timezone)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--user-timezone") from None
    limits = {"requests_per_window": throttle_requests, "window_seconds": throttle_window,
              "execution_ms_per_window": throttle_execution_ms, "max_concurrent": throttle_concurrent}
    chosen = {name: value for name, value in limits.items() if value is not None}
    settings = MockSettings.model_validate({
        "token": token, "time_zones": {"user_timezone": user_timezone},
        "throttle": {"enabled": throttle or bool(chosen), **chosen},
        "faults": {"seed": fault_seed, "error_rate": fault_error_rate, "drop_rate": fault_drop_rate,
                   "latency_ms": fault_latency_ms},
    })
    try:
        settings = with_cost_model(settings, cost_model, cost_scale)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--cost-model") from None
    try:
        serve(host=host, port=port, db_path=db, settings=settings, allow_remote=allow_remote)
    except ExtensionError as exc:
        raise _fail(str(exc)) from None
    except MockDatabaseError as exc:
        raise _fail(_database_problem(exc, db)) from None
    except PortInUseError as exc:
        raise _fail(exc.strerror or f"port {port} is already in use") from None
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _fail(str(exc)) from None


@mock_app.command("reset")
def reset_command(
    db: str | None = typer.Option(None, "--db", help="SQLite file (default: the embedded tenant's file)."),
) -> None:
    """Empty the tenant's database and seed it again (user, currency, sales process)."""
    from d365lab.mock.server import MockDatabaseError, default_db_path, open_app

    path = db or default_db_path()
    try:
        app = open_app(path)
    except MockDatabaseError as exc:
        raise _fail(_database_problem(exc, db)) from None
    try:
        app.store.clear()
        from d365lab.mock.seed import seed

        seed(app.tenant, app.settings.organization_name)
    finally:
        app.close()
    typer.echo(f"mock tenant reset: {path}")


def _fail(message: str) -> typer.Exit:
    """Print one ``error:`` line; exit 2 (nothing was done)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _database_problem(exc: Exception, db_option: str | None) -> str:
    """Name where the unusable path came from: ``--db``, or ``D365LAB_MOCK_DB`` / the default."""
    from d365lab.mock.server import DB_ENV

    source = "--db" if db_option else DB_ENV
    return f"{source}: {exc}"


def register(app: typer.Typer) -> None:
    """Add the ``mock`` command family to the root app."""
    app.add_typer(mock_app, name="mock")
