"""``d365lab whoami`` (check the connection, show who you are) and ``d365lab config`` (settings in force).

Exit code 2 with a one-line message on configuration or connection errors.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

#: Line width when output goes to a file or a pipe: wide enough that paths and ids never break.
UNWRAPPED_WIDTH = 10_000


def make_console(*, stderr: bool = False) -> Console:
    """A rich console that wraps at the terminal's width, and not at all when not on a terminal.

    Logs captured by a lab platform or CI must keep paths, ids and messages on one line, so a
    console writing to a file or a pipe neither wraps text (``soft_wrap``) nor narrows tables.
    """
    stream = sys.stderr if stderr else sys.stdout
    try:
        on_terminal = stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        on_terminal = False
    if on_terminal:
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=UNWRAPPED_WIDTH)


console = make_console()
err_console = make_console(stderr=True)


def whoami() -> None:
    """Connect (the configured tenant, or the embedded mock) and show the calling user."""
    from d365lab.config import ConfigurationError
    from d365lab.connect import connect
    from d365lab.errors import DataverseError, TransportError

    try:
        with connect() as client:
            me = client.whoami()
            table = Table(title="d365lab whoami", show_header=False)
            table.add_column("", style="bold")
            table.add_column("")
            table.add_row("Tenant", client.tenant_label)
            table.add_row("Web API", client.transport.service_root)
            table.add_row("User id", me.user_id)
            table.add_row("Business unit id", me.business_unit_id)
            table.add_row("Organization id", me.organization_id)
            table.add_row("Recommended parallelism", str(client.recommended_parallelism))
            console.print(table)
    except ConfigurationError as exc:
        err_console.print(f"[red]configuration error[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except TransportError as exc:
        err_console.print(f"[red]error:[/red] cannot reach the tenant: {exc}", highlight=False)
        raise typer.Exit(2) from None
    except DataverseError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


def config() -> None:
    """Show the connection settings in force (secrets only as "set"), without connecting."""
    from d365lab.config import ConfigurationError, ignored_credentials, load_settings

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        err_console.print(f"[red]configuration error[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    table = Table(title="d365lab config", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    if settings.is_mock:
        table.add_row("Tenant", "embedded mock tenant (DATAVERSE_URL is not set)")
        ignored = ignored_credentials(settings)
        if ignored:
            table.add_row("Ignored", ", ".join(ignored) + " (set, but unused while DATAVERSE_URL is empty)")
    else:
        table.add_row("DATAVERSE_URL", settings.base_url)
        table.add_row("Authentication", settings.auth_mode.value)
        table.add_row("AZURE_TENANT_ID", settings.tenant_id or "-")
        table.add_row("AZURE_CLIENT_ID", settings.client_id or "-")
        for label, secret in (("AZURE_CLIENT_SECRET", settings.client_secret), ("DATAVERSE_TOKEN", settings.token)):
            table.add_row(label, "set" if secret is not None and secret.get_secret_value() else "-")
        table.add_row("AZURE_CLIENT_CERTIFICATE_PATH", settings.client_certificate_path or "-")
    table.add_row("Read timeout", f"{settings.read_timeout:g} s")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the core commands to the root CLI."""
    app.command("whoami")(whoami)
    app.command("config")(config)
