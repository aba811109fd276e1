"""`mail send [--loop]`: the outbox delivered over SMTP (or into instance/mail/ outside production)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from . import fail

mail_cli = AppGroup("mail", help="Deliver the outbox.")


@mail_cli.command("send")
@click.option("--loop", is_flag=True, help="keep delivering until stopped")
@click.option("--interval", default=2.0, show_default=True, help="seconds between rounds with --loop")
def mail_send(loop: bool, interval: float) -> None:
    """Deliver the outbox, retrying failed messages with back-off."""
    from ..mail.delivery import MailConfigError, deliver_due, enqueue_updates, run_forever

    try:
        if loop:
            import signal

            stopping = {"now": False}

            def stop(_signum: int, _frame: object) -> None:
                stopping["now"] = True

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            click.echo("mail: delivering the outbox; stop with Ctrl-C")
            run_forever(interval, echo=click.echo, should_stop=lambda: stopping["now"])
            return
        enqueue_updates(click.echo)
        report = deliver_due(echo=click.echo)
    except MailConfigError as error:
        fail(str(error))
        return
    click.echo(
        f"mail: sent {report.sent}, retrying later {report.retrying}, failed {report.failed}, bounced {report.bounced}"
    )
