"""The `supportline` command: migrations, routing-table load/export, serving, the demo.

Every command that writes runs as one unit of work: one commit at the end, nothing on failure.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import click

from auth.pins import hash_pin
from casestore.db import make_engine, make_session_factory, session_scope, upgrade
from casestore.interchange.problems import LoadReport
from cli.common import Group, actor
from webhooks.config import ConfigurationError, Settings, load_settings
from webhooks.services import system_clock


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


@click.group(cls=Group)
@click.version_option(package_name="supportline", prog_name="supportline")
@click.option("--dev", is_flag=True, envvar="SUPPORTLINE_DEV", help="Development mode (demo secrets allowed).")
@click.pass_context
def main(ctx: click.Context, dev: bool) -> None:
    """supportline: IVR and call routing for the support desk."""
    ctx.ensure_object(dict)
    if dev:
        os.environ["SUPPORTLINE_DEV"] = "1"
    ctx.obj["settings"] = load_settings({"development": True} if dev else None)


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Run the Alembic migrations (creates the database on first use)."""
    settings = _settings(ctx)
    upgrade(make_engine(settings.database_url), revision)
    click.echo(f"database at {revision}: {_safe_url(settings.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _load_file(settings: Settings, path: Path, actor: str, *, show_progress: bool = False) -> LoadReport:
    """Load `path` in one transaction; `show_progress`: a progress bar on stderr while rows are written."""
    from casestore.interchange import load_text

    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    pepper = settings.pin_pepper
    with ExitStack() as stack, session_scope(sessions) as session:
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(click.progressbar(length=total, label="writing rows", file=sys.stderr))
            bar.update(1)

        report = load_text(
            session,
            path.read_text(encoding="utf-8"),
            source=str(path),
            hash_pin=partial(hash_pin, pepper) if pepper else None,
            region=settings.default_region,
            actor=actor,
            now=system_clock(),
            progress=progress if show_progress else None,
        )
    return report


@main.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def load_cmd(ctx: click.Context, file: Path) -> None:
    """Validate FILE (YAML or JSON routing tables) and write it in one transaction (a progress bar on
    stderr while the rows are written)."""
    from casestore.interchange import LoadError

    try:
        report = _load_file(_settings(ctx), file, actor=actor("load"), show_progress=True)
        click.echo(str(report))
        for warning in report.warnings:
            click.echo(f"warning: {warning}", err=True)
    except LoadError as exc:
        click.echo(f"{file}: {len(exc.problems)} problem(s); nothing was written", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def export_cmd(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Write the routing tables in the load format (PINs are never exported)."""
    from casestore.interchange import dump, export_document

    settings = _settings(ctx)
    sessions = make_session_factory(make_engine(settings.database_url))
    with session_scope(sessions) as session:
        text = dump(export_document(session), fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"routing tables written to {output} ({fmt}, {len(text.splitlines())} lines)")
    else:
        click.echo(text, nl=False)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn workers (1 when Redis is embedded).")
@click.pass_context
def serve_cmd(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the webhooks (gunicorn where available, else the threaded development server)."""
    _serve(_settings(ctx), host, port, workers)


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    from webhooks import logs, metrics
    from webhooks.app import create_app

    try:
        app = create_app()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    if settings.redis_embedded:
        workers = 1  # the in-process Redis stand-in cannot be shared between processes
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # Windows: no gunicorn
        app.run(host=host, port=port, threaded=True, use_reloader=False)
        return

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 8 if workers == 1 else 4)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            # As gunicorn.conf.py: JSON access lines with the request id, and multiprocess metrics.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms %({x-request-id}o)s')
            self.cfg.set("logger_class", logs.gunicorn_logger_class())
            self.cfg.set("on_starting", lambda server: metrics.clear_multiproc_dir())
            self.cfg.set("child_exit", metrics.child_exit)
            # Same warm-up as gunicorn.conf.py, in each worker after the fork: database and Redis
            # connections opened in the master would be shared by every forked worker.
            self.cfg.set("post_worker_init", _warm_worker)
            if "control_socket" in self.cfg.settings:  # gunicorn 24+: its own, not ~/.gunicorn's
                self.cfg.set("control_socket", str(Path(settings.instance_path) / f"gunicorn-{port}.ctl"))

        def load(self):
            return app

    def _warm_worker(worker) -> None:
        from webhooks.app import worker_started

        svc = worker.wsgi.extensions["supportline"]
        worker_started(svc, connections=8 if workers == 1 else 4)
        if settings.redis_embedded:
            # Nothing outside this process can reach the embedded Redis: run jobs here.
            from workers.worker import start_in_process

            start_in_process(svc)

    _Gunicorn().run()


@main.command("call")
@click.option("--from", "from_number", required=True, help="Caller ID, any notation, or 'Anonymous'.")
@click.option(
    "--at", "at", default=None, help='Local time in SUPPORT_TIMEZONE, e.g. "2026-11-26 10:00" (default: now).'
)
@click.option(
    "--keys",
    default="",
    help="Key groups for successive prompts, comma-separated: keys as pressed ('241025#', '0'), '' for no "
    "input, 'hold:<keys>' while on hold, 'say:<words>' to speak instead (Twilio's SpeechResult, "
    "Confidence 0.9: 'say:two four one oh two five', 'say:agent', 'say:yes'), 'say@0.3:<words>' for a "
    "chosen confidence. Speaking works only at prompts that listen for speech (not the PIN).",
)
@click.option("--dial", default="", help="Outcomes for successive rings: accept, decline, no-answer, busy, failed.")
@click.option("-i", "--interactive", is_flag=True, help="Ask for keys and ring outcomes as the call goes.")
@click.option(
    "--commit",
    is_flag=True,
    help="Keep what the call wrote, and check the PIN typed for real "
    "(default: roll everything back; the PIN prompt is answered with a simulated PIN).",
)
@click.option("--wrong-pin", is_flag=True, help="Dry run: answer the PIN prompt with a wrong PIN.")
@click.pass_context
def call_cmd(ctx, from_number, at, keys, dial, interactive, commit, wrong_pin) -> None:
    """Simulate a call through the real app: signed webhooks, every action URL followed.

    \b
    ./dev --dev call --from '(612) 555-0134' --keys '241025#' --dial no-answer,accept
    ./dev --dev call --from '(612) 555-0134' --keys 'say:two four one oh two five,say:yes'
    """
    from cli.localredis import shared_config
    from twilio_doubles.dryrun import run_call
    from twilio_doubles.simulator import SpeechEntryError, Spoken

    if commit and wrong_pin:
        raise click.UsageError("--wrong-pin is for a dry run; with --commit type the PIN in --keys")
    try:
        for group in keys.split(","):
            Spoken.of(group)
    except SpeechEntryError as exc:
        raise click.BadParameter(str(exc), param_hint="--keys") from None
    settings = _settings(ctx)
    if commit:  # a real call: on the shared state (the demo's, or REDIS_URL), never a private one
        settings = load_settings(shared_config(settings, {"development": True} if settings.development else None))
    try:
        run_call(
            settings,
            from_number=from_number,
            at=at,
            keys=keys,
            dial=dial,
            interactive=interactive,
            commit=commit,
            wrong_pin=wrong_pin,
        )
    except SpeechEntryError as exc:  # "say:" at a keypad-only prompt, or typed so in --interactive
        raise click.ClickException(str(exc)) from None


def _register_desk_commands() -> None:
    from cli.admin import admin_group
    from cli.demo import demo_cmd
    from cli.desk import dispatcher_cmd, presence_group, queue_cmd, report_cmd, worker_cmd

    main.add_command(admin_group)
    main.add_command(demo_cmd)
    main.add_command(report_cmd)
    main.add_command(worker_cmd)
    main.add_command(presence_group)
    main.add_command(dispatcher_cmd)
    main.add_command(queue_cmd)


_register_desk_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
