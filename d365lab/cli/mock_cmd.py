"""``d365lab mock serve`` and ``d365lab mock reset``: the embedded mock tenant from the shell."""

from __future__ import annotations

import typer

mock_app = typer.Typer(name="mock", help="Run or reset the local mock Dataverse tenant.", no_args_is_help=True)


@mock_app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8765, "--port", help="TCP port."),
    db: str | None = typer.Option(None, "--db", help="SQLite file or :memory: (default: the embedded tenant's file)."),
    token: str | None = typer.Option(None, "--token", envvar="D365LAB_MOCK_TOKEN",
                                     help="Bearer token to require (default: accept any token)."),
    allow_remote: bool = typer.Option(False, "--allow-remote",
                                      help="Allow a non-loopback --host (requires --token)."),
) -> None:
    """Serve the mock tenant's Web API at http://HOST:PORT/api/data/v9.2/ until Ctrl+C."""
    from d365lab.mock.server import serve
    from d365lab.mock.settings import MockSettings

    settings = MockSettings.model_validate({"token": token})
    try:
        serve(host=host, port=port, db_path=db, settings=settings, allow_remote=allow_remote)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@mock_app.command("reset")
def reset_command(
    db: str | None = typer.Option(None, "--db", help="SQLite file (default: the embedded tenant's file)."),
) -> None:
    """Empty the tenant's database and seed it again (user, currency, sales process)."""
    from d365lab.mock.app import create_app
    from d365lab.mock.server import default_db_path

    path = db or default_db_path()
    app = create_app(path)
    try:
        app.store.clear()
        from d365lab.mock.seed import seed

        seed(app.tenant, app.settings.organization_name)
    finally:
        app.close()
    typer.echo(f"mock tenant reset: {path}")


def register(app: typer.Typer) -> None:
    """Add the ``mock`` command family to the root app."""
    app.add_typer(mock_app, name="mock")
