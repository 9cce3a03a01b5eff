"""``agentdeck``: the dashboard, and a headless CLI for scripts, tests and benchmarks.

Errors (unknown id, bad JSON, invalid input, unreachable database) print one line and exit 2.

Only the standard library is imported at the top: ``agentdeck ls`` reads the system tables
directly (``tui.fastls``) and never loads DBOS, SQLAlchemy, Textual or the workflows
(tests/contract/test_import_hygiene.py); every other command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

EXIT_USAGE = 2


class CLIError(Exception):
    pass


#: The switches every command shares (``--db`` is added beside them).
_SWITCHES = (
    ("--offline", "force the offline scripted model"),
    ("--read-only", "attach without any write"),
    ("--attach", "do not run workflows in this process (workers run them); the default with --db"),
    ("--embedded", "run workflows in the dashboard process even with --db"),
)


def _global_options(p: argparse.ArgumentParser, *, in_command: bool) -> None:
    """The options every command shares. They are taken before or after the command's name
    (``agentdeck --db X ls`` and ``agentdeck ls --db X``); after it they are defaulted to
    nothing, so they never undo what was given before it."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if in_command else value

    p.add_argument(
        "--db",
        default=default(None),
        help="system database URL or SQLite path (default: dbos-config.yaml)",
    )
    for flag, text in _SWITCHES:
        p.add_argument(flag, action="store_true", default=default(False), help=text)


def _app_options(p: argparse.ArgumentParser, *, in_command: bool) -> None:
    """``--app-path`` / ``--app-module``: someone else's app's code, to show its classes (the
    dashboard, ``serve`` and ``show``; never ``ls``)."""
    default = argparse.SUPPRESS if in_command else None
    p.add_argument(
        "--app-path",
        default=default,
        metavar="PATH",
        help="the code of the DBOS app whose database this is: its script (app.py), or a "
        "directory with --app-module; imported (it runs!) in a helper process, without "
        "launching DBOS, so its pickled classes show as fields and messages can be sent as them",
    )
    p.add_argument(
        "--app-module",
        default=default,
        metavar="NAME",
        help="with --app-path DIR: the module to import from DIR (e.g. mypkg.app)",
    )


def _app_spec(args: argparse.Namespace) -> Any:
    """The AppSpec the app options name, or None; a clear error when they do not add up."""
    path, module = getattr(args, "app_path", None), getattr(args, "app_module", None)
    if not path and not module:
        return None
    if args.cmd not in (None, "serve", "show", "export"):
        raise CLIError(f"--app-path is for the dashboard, serve, show and export, not {args.cmd}")
    if not path:
        raise CLIError("--app-module needs --app-path DIR (the directory to import it from)")
    from .supervisor.codec import AppSpec

    spec = AppSpec(str(Path(path).resolve()), module or None)
    if wrong := spec.check():
        raise CLIError(wrong)
    return spec


def _app_warning(spec: Any) -> str:
    return (
        f"importing {spec.label}'s code from {spec.path} in a helper process, to decode its "
        "classes: its module-level code runs (DBOS is not launched)"
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agentdeck",
        description="Supervise durable Claude research agents running on DBOS.",
    )
    _global_options(p, in_command=False)
    _app_options(p, in_command=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, in_command=True)
    sub = p.add_subparsers(dest="cmd")

    def command(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=summary)

    lp = command("launch", "launch a workflow")
    lp.add_argument("kind", choices=["research", "compare"])
    lp.add_argument("--topic", help="research: what to research (required)")
    lp.add_argument("--questions", type=int, default=3)
    lp.add_argument("--model", default=None)
    lp.add_argument(
        "--tools",
        default="",
        help="research: Claude tools the steps may use, comma-separated (the tool policy "
        "decides which need your approval); default none",
    )
    lp.add_argument("--question", help="compare: the question every branch answers (required)")
    lp.add_argument(
        "--branches",
        default=None,
        help="compare: 2-4 branches, model:style comma-separated "
        "(style balanced/concise/detailed/skeptical)",
    )
    lp.add_argument("--judge-model", default=None, help="compare: the judge's model")
    lp.add_argument(
        "--workflow-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="DBOS workflow timeout: the run is cancelled (shown as timed out) this long after "
        "it starts",
    )
    lp.add_argument("--fault", default="", help="offline-model fault injection spec")
    lp.add_argument("--approval-timeout", type=float, default=None, help="seconds")
    lp.add_argument("--id", dest="workflow_id", default=None, help="workflow id (idempotent)")
    lp.add_argument(
        "--priority",
        type=int,
        default=None,
        metavar="N",
        help="launch-queue priority: 1 runs first ... 2147483647 last (default: none, which "
        "DBOS starts before any number)",
    )
    lp.add_argument(
        "--debounce",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wait this long (DELAYED); launching the same topic again meanwhile replaces the "
        "input and restarts the wait, so one run starts",
    )
    lp.add_argument(
        "--allow-duplicate",
        action="store_true",
        help="launch even if an identical request is already queued or running",
    )
    lp.add_argument(
        "--budget-usd",
        type=float,
        default=None,
        metavar="USD",
        help="pause and ask before a step would pass this cost (default: agentdeck.yaml guards:)",
    )
    lp.add_argument(
        "--budget-tokens",
        type=int,
        default=None,
        metavar="N",
        help="pause and ask before a step would pass this many tokens (in + out)",
    )
    lp.add_argument("--wait", action="store_true", help="run it here and wait for the result")
    lp.add_argument("--auto-approve", action="store_true", help="approve the plan automatically")
    lp.add_argument("--timeout", type=float, default=None, help="give up waiting after seconds")
    lp.add_argument("--json", action="store_true")

    ls = command("ls", "list workflows, newest first")
    ls.add_argument("--limit", type=int, default=50, help="at most this many (0: all)")
    ls.add_argument(
        "--filter",
        default="",
        metavar="EXPR",
        help="the list's filter language, e.g. 'status:error since:1d name:research'",
    )
    ls.add_argument("--json", action="store_true")

    sp = command("stats", "what the insights screen shows: runs, durations, cost, waits, errors")
    sp.add_argument(
        "--since",
        default="24h",
        metavar="SPAN",
        help="the window, ending now: 1h, 24h, 7d, 30d or e.g. 90m, 12h, 3d (default 24h)",
    )
    sp.add_argument(
        "--filter",
        default="",
        metavar="EXPR",
        help="the list's filter language, e.g. 'name:research status:error'",
    )
    sp.add_argument("--json", action="store_true")

    sh = command("show", "a workflow's status, steps, events and result")
    sh.add_argument("workflow_id")
    sh.add_argument("--json", action="store_true")
    _app_options(sh, in_command=True)

    ex = command("export", "write a run as Markdown or JSON, secrets redacted")
    ex.add_argument("workflow_id")
    ex.add_argument(
        "--format",
        choices=["md", "json"],
        default=None,
        help="md: the report, plan, steps with usage and cost, approvals, errors; json: status, "
        "input and output as decoded, every step, events, streams, children (default: from "
        "the -o file's extension, else md)",
    )
    ex.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="write to FILE, replacing it (default, or -: standard output)",
    )
    _app_options(ex, in_command=True)

    ap = command("approve", "answer a workflow's pending approval")
    ap.add_argument("workflow_id")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--reject", action="store_true")
    g.add_argument("--answer", help='JSON answer, e.g. {"decision":"edit","questions":[...]}')
    ap.add_argument("--comment", default="")
    ap.add_argument("--json", action="store_true")

    for verb, what in (
        ("cancel", "cancel runs in flight"),
        ("resume", "resume failed, cancelled or stuck runs"),
    ):
        bp = command(verb, f"{what}: by id, or every run a filter matches")
        bp.add_argument("workflow_ids", nargs="*", metavar="ID", help="ids or unique prefixes")
        bp.add_argument(
            "--filter",
            default=None,
            metavar="EXPR",
            help="every run the list's filter matches, e.g. 'status:error since:1d'",
        )
        bp.add_argument("--yes", action="store_true", help="do it without asking")
        bp.add_argument("--json", action="store_true")

    st = command("stream", "print a workflow's output stream as it arrives")
    st.add_argument("workflow_id")
    st.add_argument("--no-follow", action="store_true", help="print what is there and exit")

    sv = command(
        "serve",
        "serve the dashboard to a browser (textual-serve); only the URL it prints (with its "
        "access token, random or $AGENTDECK_SERVE_TOKEN) gets in",
    )
    sv.add_argument("--host", default="127.0.0.1", help="listen address (default: loopback)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument(
        "--no-token",
        action="store_true",
        help="serve without the access token (loopback addresses only)",
    )
    _app_options(sv, in_command=True)

    cf = command("config", "print the settings in effect, each with its source (secrets redacted)")
    cf.add_argument("--json", action="store_true")

    wk = command("worker", "run workflows from the DBOS queues (no UI)")
    wk.add_argument("--concurrency", type=int, default=None, help="research steps in parallel")
    wk.add_argument(
        "--executor-id",
        default=None,
        help="stable id of this worker (DBOS recovers a restarted worker's runs by it; "
        "default: $DBOS__VMID or worker-<hostname>)",
    )
    return p


def _emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text)


def _settings_problem() -> str | None:
    """A bad setting, in one line naming it and its source (None when all are good).

    ``agentdeck ls`` and ``stats`` skip this: they read their settings without loading the model.
    """
    from workflows.config import ConfigError, settings

    try:
        settings()
    except ConfigError as exc:
        return str(exc)
    return None


def _config(as_json: bool) -> int:
    from workflows.config import config_path, describe

    rows = describe()
    if as_json:
        print(json.dumps({n: {"value": v, "source": s} for n, v, s, _ in rows}, indent=2))
        return 0
    print(f"# agentdeck settings (file: {config_path()}; environment: AGENTDECK_<NAME>)")
    width = max(len(n) for n, *_ in rows)
    for name, value, source, what in rows:
        shown = value or "''"
        print(f"{name:<{width}}  {shown}  [{source}]  # {what}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        app = args.app_spec = _app_spec(args)
    except CLIError as exc:
        print(f"agentdeck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.cmd not in ("ls", "stats") and (problem := _settings_problem()):
        print(f"agentdeck: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.cmd == "config":
        return _config(args.json)
    if args.cmd is None:
        from .app import run_dashboard

        # An explicit database (--db or $DBOS_SYSTEM_DATABASE_URL) means attach: the workflows
        # run in workers there. The default embedded SQLite runs them in the dashboard.
        attach = args.attach or (
            not args.embedded and bool(args.db or os.environ.get("DBOS_SYSTEM_DATABASE_URL"))
        )
        return run_dashboard(
            db=args.db,
            offline=args.offline or None,
            read_only=args.read_only,
            attach=attach,
            app=app,
        )
    if args.cmd == "serve":
        return _serve(args)
    if args.cmd == "worker" and args.concurrency:
        os.environ["AGENTDECK_RESEARCH_CONCURRENCY"] = str(args.concurrency)
    try:
        if args.cmd == "ls":
            return _ls(args)
        if args.cmd == "stats":
            return _stats(args)
        import asyncio

        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `agentdeck ls | head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except CLIError as exc:
        print(f"agentdeck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # never a traceback: one line, details in the log file
        import logging

        from workflows.runtime import configure_logging, redact

        if args.cmd in ("ls", "stats"):  # they do not set up logging (it would import DBOS)
            configure_logging(Path(os.environ.get("AGENTDECK_STATE_DIR", ".agentdeck")))
        logging.getLogger("agentdeck.cli").exception("unexpected error")
        print(f"agentdeck: error: {redact(str(exc)) or type(exc).__name__}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace) -> int:
    """Each browser tab runs its own `agentdeck --attach` (the workflows run elsewhere), for
    a browser that shows the access token (tui/serve.py)."""
    import shlex

    from .serve import TOKEN_ENV, ServeError, TokenServer, serve_token

    try:
        token = serve_token(no_token=args.no_token, host=args.host, environ=os.environ)
    except ServeError as exc:
        print(f"agentdeck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    os.environ.pop(TOKEN_ENV, None)  # the dashboards it starts inherit the environment
    command = [sys.executable, "-m", "tui.cli", "--attach"]
    if args.db:
        command += ["--db", args.db]
    if args.read_only:
        command.append("--read-only")
    if app := args.app_spec:
        command += ["--app-path", app.path] + (["--app-module", app.module] if app.module else [])
        print(f"agentdeck: warning: {_app_warning(app)}", file=sys.stderr, flush=True)
    what = "the read-only dashboard" if args.read_only else "the dashboard"
    note = " (no token: this machine only)" if token is None else ""

    def announce(url: str) -> None:  # the only time the token is printed
        print(f"serving {what} on {url}{note} (ctrl+c stops)", flush=True)

    server = TokenServer(
        shlex.join(command),
        host=args.host,
        port=args.port,
        token=token,
        title="AgentDeck",
        announce=announce,
    )
    try:
        server.serve()
    except OSError as exc:  # the port is taken, the address is not this machine's
        print(f"agentdeck: error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _missing_sqlite(db_url: str) -> str:
    """The path of a SQLite database URL whose file does not exist, else ''."""
    if not db_url.startswith("sqlite:///"):
        return ""
    path = db_url.removeprefix("sqlite:///")
    return "" if Path(path).exists() else path


async def _run(args: argparse.Namespace) -> int:
    import asyncio

    from workflows.runtime import Runtime, RuntimeSettings, configure_logging, resolve_db_url

    from .supervisor import Supervisor, SupervisorError

    db_url = resolve_db_url(args.db)
    settings = RuntimeSettings(db_url=db_url, offline=True if args.offline else None)
    if args.cmd == "worker":
        import socket

        settings.executor_id = (
            args.executor_id or os.environ.get("DBOS__VMID") or f"worker-{socket.gethostname()}"
        )
    configure_logging(settings.state_dir)
    runtime: Runtime | None = None
    if args.cmd == "worker" or (args.cmd == "launch" and args.wait):
        runtime = Runtime(settings)
        try:
            await asyncio.to_thread(runtime.launch)
        except Exception as exc:
            from workflows.runtime import redact

            raise CLIError(f"cannot start DBOS on {redact(db_url)}: {exc}") from None
    elif missing := _missing_sqlite(db_url):
        raise CLIError(f"no database at {missing} (start `agentdeck` once, or pass --db)")
    codec = None
    if spec := args.app_spec:
        from .supervisor.codec import AppCodec

        print(f"agentdeck: warning: {_app_warning(spec)}", file=sys.stderr, flush=True)
        codec = AppCodec(spec)
    sup = Supervisor(db_url, read_only=args.read_only, codec=codec)
    try:
        await sup.connect()
        handler = globals()[f"_cmd_{args.cmd}"]
        return int(await handler(sup, args, runtime))
    except SupervisorError as exc:
        raise CLIError(str(exc)) from None
    finally:
        await sup.close()
        if runtime is not None:
            await asyncio.to_thread(runtime.shutdown)


async def _cmd_launch(sup: Any, args: argparse.Namespace, runtime: Any) -> int:
    import asyncio

    from workflows.models import ApprovalAnswer, ApprovalDecision

    data: dict[str, Any]
    if args.kind == "compare":
        if not args.question:
            raise CLIError("launch compare needs --question")
        data = {"question": args.question, "fault": args.fault}
        if args.branches:
            data["branches"] = args.branches
        if args.judge_model:
            data["judge_model"] = args.judge_model
    else:
        if not args.topic:
            raise CLIError("launch research needs --topic")
        data = {"topic": args.topic, "questions": args.questions, "fault": args.fault}
        if args.model:
            data["model"] = args.model
        if args.tools:
            data["tools"] = args.tools
        if args.approval_timeout is not None:
            data["approval_timeout_s"] = args.approval_timeout
    for flag in ("budget_usd", "budget_tokens"):
        if getattr(args, flag, None) is not None:
            data[flag] = getattr(args, flag)
    res = await sup.launch(
        args.kind,
        data,
        workflow_id=args.workflow_id,
        priority=args.priority,
        dedupe=not args.allow_duplicate,
        debounce_s=args.debounce,
        timeout_s=args.workflow_timeout,
    )
    wid = res.workflow_id
    if not res.ok:  # an identical request is queued or running: the message names it
        _emit(
            {"workflow_id": wid, "message": res.message, "launched": False}, args.json, res.message
        )
        return 1
    if not args.wait:
        note = "" if runtime else " (runs when a dashboard or `agentdeck worker` serves this DB)"
        _emit({"workflow_id": wid, "message": res.message}, args.json, res.message + note)
        return 0
    if not args.json:
        print(f"{res.message}; model: {runtime.endpoint.label if runtime else '?'}", flush=True)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    approved = False
    last_phase = ""
    while True:
        row = await sup.get_row(wid)
        phase = row.progress.phase if row.progress else ""
        if phase != last_phase and not args.json:
            total = row.progress.total if row.progress else 0
            done = row.progress.done if row.progress else 0
            print(f"  {phase} {done}/{total}" if total else f"  {phase}", flush=True)
            last_phase = phase
        if row.waiting_approval and not approved:
            if args.auto_approve:
                await sup.answer(
                    wid, ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="cli --auto-approve")
                )
                approved = True
            elif not args.json and last_phase != "approval-noted":
                print(f"  waiting for approval: agentdeck approve {wid}", flush=True)
                last_phase = "approval-noted"
        if not row.active:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise CLIError(f"timed out waiting for {wid} (still {row.status})")
        await asyncio.sleep(0.1)
    detail = await sup.detail(wid)
    payload = _detail_json(detail)
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(f"{wid}: {detail.row.status}")
        if detail.result_markdown:
            print(detail.result_markdown)
        if detail.error:
            print(f"error: {detail.error}")
    return 0 if detail.row.status == "SUCCESS" else 1


def _row_json(row: Any) -> dict[str, Any]:
    return dict(row.model_dump(mode="json"))


def _detail_json(detail: Any) -> dict[str, Any]:
    result = detail.result
    if hasattr(result, "model_dump"):
        result = result.model_dump(mode="json")
    elif result is not None and not isinstance(result, (str, int, float, bool, list, dict)):
        result = str(result)
    return {
        "workflow_id": detail.row.workflow_id,
        "status": detail.row.status,
        "row": _row_json(detail.row),
        "input": detail.input_summary,
        "steps": [s.model_dump(mode="json") for s in detail.steps],
        "events": {e.key: _jsonable(e.value) for e in detail.events},
        "children": [c.workflow_id for c in detail.children],
        "forks": list(detail.forks),
        "result": result,
        "error": detail.error,
    }


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except TypeError:
        return str(v)


def _fmt_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _ls(args: argparse.Namespace) -> int:
    """The data layer's listing, read without DBOS (``tui.fastls``): a quarter of the time."""
    from .fastls import LsError, list_rows, resolve_db_url

    try:
        rows = list_rows(resolve_db_url(args.db), limit=args.limit, filter_text=args.filter)
    except LsError as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        # One line: with an indent, json falls back to its pure-Python encoder (3x slower on
        # 10k rows; bench/cli_ls.py).
        print(json.dumps(rows, default=str))
        return 0
    lines = [f"{'STATUS':<10} {'NAME':<18} {'ID':<36} {'CREATED':<19} SUMMARY"]
    for r in rows:
        approval = r["approval"]
        waiting = r["status"] == "PENDING" and approval is not None
        badge = " [approval]" if waiting and approval["state"] == "pending" else ""
        lines.append(
            f"{r['status']:<10} {r['name'][:18]:<18} {r['workflow_id'][:36]:<36} "
            f"{_fmt_time(r['created_at']):<19} {r['summary']}{badge}"
        )
    print("\n".join(lines))
    return 0


def _stats(args: argparse.Namespace) -> int:
    """``agentdeck stats``: the insights screen's figures (``tui.data.insights``), read without
    DBOS like ``ls``."""
    from .data.filters import FilterError
    from .data.insights import InsightsQuery, compute
    from .fastls import LsError, open_db, resolve_db_url
    from .insights_text import stats_text

    try:
        with open_db(resolve_db_url(args.db)) as db:
            found = compute(db, InsightsQuery(window=args.since, filter=args.filter))
    except FilterError as exc:
        raise CLIError(f"bad --since or --filter: {exc}") from None
    except LsError as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps(found.to_json(), indent=2))
    else:
        print(stats_text(found))
    return 0


async def _cmd_show(sup: Any, args: argparse.Namespace, runtime: Any) -> int:
    wid = await sup.resolve_id(args.workflow_id)
    d = await sup.detail(wid)
    if sup.codec is not None and sup.codec.problem:
        print(f"agentdeck: warning: {sup.codec.problem}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(_detail_json(d), indent=2, default=str))
        return 0
    r = d.row
    print(f"{r.workflow_id}  {r.name}  {r.status}")
    print(f"  input:    {d.input_summary}")
    print(
        f"  created:  {_fmt_time(r.created_at)}   executor: {r.executor}   version: {r.app_version}"
    )
    if r.forked_from:
        print(f"  forked from: {r.forked_from}")
    print("  steps:")
    for s in d.steps:
        dur = (s.completed_at - s.started_at) if s.completed_at and s.started_at else None
        dur_s = f"{dur:6.2f}s" if dur is not None else "   ...  "
        extra = f" → {s.child_id}" if s.child_id else ""
        err = f"  ✗ {s.error}" if s.error else ""
        print(f"    {s.step_id:>3} {s.name:<28} {s.status:<8} {dur_s} x{s.attempts}{extra}{err}")
    if d.events:
        print("  events:")
        for e in d.events:
            print(f"    {e.key}: {json.dumps(_jsonable(e.value))[:200]}")
    if d.result_markdown:
        print("  result:\n" + d.result_markdown)
    elif d.result is not None:
        print(f"  result: {d.result!r}"[:2000])
    if d.error:
        print(f"  error: {d.error}")
    return 0


async def _cmd_export(sup: Any, args: argparse.Namespace, runtime: Any) -> int:
    import asyncio

    from .export_doc import ExportFileError, format_of, render, write_file
    from .supervisor.export import gather

    wid = await sup.resolve_id(args.workflow_id)
    to_stdout = args.output in ("-", "")
    fmt = args.format or ("md" if to_stdout else format_of(args.output))
    export = await gather(sup, wid)
    if sup.codec is not None and sup.codec.problem:
        print(f"agentdeck: warning: {sup.codec.problem}", file=sys.stderr, flush=True)
    text = await asyncio.to_thread(render, export, fmt)
    if to_stdout:
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    try:
        path = await asyncio.to_thread(write_file, args.output, text, overwrite=True)
    except ExportFileError as exc:
        raise CLIError(str(exc)) from None
    print(f"exported {wid} to {path} ({fmt}, {len(text.encode()):,} bytes)", file=sys.stderr)
    return 0


async def _cmd_approve(sup: Any, args: argparse.Namespace, runtime: Any) -> int:
    from pydantic import ValidationError

    from workflows.models import ApprovalAnswer

    wid = await sup.resolve_id(args.workflow_id)
    if args.answer:
        try:
            raw = json.loads(args.answer)
        except json.JSONDecodeError as exc:
            raise CLIError(f"--answer is not valid JSON: {exc}") from None
        try:
            answer = ApprovalAnswer.model_validate(raw)
        except ValidationError as exc:
            raise CLIError("invalid answer: " + "; ".join(e["msg"] for e in exc.errors())) from None
    else:
        answer = ApprovalAnswer(
            decision="reject" if args.reject else "approve", comment=args.comment, by="cli"
        )
    res = await sup.answer(wid, answer)
    _emit(res.model_dump(), args.json, res.message)
    return 0 if res.ok else 1


async def _bulk(sup: Any, args: argparse.Namespace) -> int:
    """``agentdeck cancel|resume (ID… | --filter EXPR) [--yes]``: the list's bulk action."""
    from .supervisor.bulk import plan

    if bool(args.workflow_ids) == (args.filter is not None):
        raise CLIError(f"{args.cmd}: give workflow ids or --filter EXPR (one of the two)")
    if args.filter is not None:
        rows = await sup.bulk_rows(filter_text=args.filter)
    else:
        ids = [await sup.resolve_id(w) for w in args.workflow_ids]
        rows = await sup.bulk_rows(ids=ids)
    todo = plan(args.cmd, rows)
    if not todo.act_on:
        left = f" ({todo.refused_summary()})" if todo.refused else ""
        _emit(
            {"done": [], "refused": todo.refused},
            args.json,
            f"nothing to {args.cmd}: {len(rows)} run(s) matched{left}",
        )
        return 0
    if not args.yes:
        sample = ", ".join(r.workflow_id for r in todo.act_on[:5])
        more = f" and {len(todo.act_on) - 5} more" if len(todo.act_on) > 5 else ""
        if not sys.stdin.isatty():
            raise CLIError(
                f"{args.cmd} {len(todo.act_on)} run(s) ({sample}{more})? "
                "pass --yes to confirm without a terminal"
            )
        import asyncio

        prompt = f"{args.cmd} {len(todo.act_on)} run(s) ({sample}{more})? [y/N] "
        answer = await asyncio.to_thread(input, prompt)
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing done")
            return 1
    result = await sup.bulk_apply(todo)
    _emit(
        {"done": result.done, "failed": result.failed, "refused": todo.refused},
        args.json,
        result.message(todo),
    )
    return 1 if result.failed else 0


async def _cmd_cancel(sup: Any, args: argparse.Namespace, runtime: Any) -> int:
    return await _bulk(sup, args)


async def _cmd_resume(sup: Any, args: argparse.Namespace, runtime: Any) -> int:
    return await _bulk(sup, args)


async def _cmd_stream(sup: Any, args: argparse.Namespace, runtime: Any) -> int:
    import asyncio

    wid = await sup.resolve_id(args.workflow_id)
    offsets = {wid: 0}
    last: tuple[int, int] | None = None
    while True:
        batches = await sup.read_streams(offsets)
        for b in batches:
            offsets[b.workflow_id] = b.next_offset
            for c in b.chunks:
                if (c.step_id, c.attempt) != last:
                    print(f"\n── {c.step_name} (step {c.step_id}, attempt {c.attempt}) ──")
                    last = (c.step_id, c.attempt)
                for part in c.parts:
                    if part.kind in ("text", "tool_use", "tool_result"):
                        sys.stdout.write(part.text)
                    else:
                        sys.stdout.write(f"\n[{part.kind}] {part.text.strip()}\n")
            sys.stdout.flush()
        if args.no_follow:
            break
        row = await sup.get_row(wid)
        if not row.active and not batches:
            break
        await asyncio.sleep(0.05)
    print()
    return 0


async def _cmd_worker(sup: Any, args: argparse.Namespace, runtime: Any) -> int:
    import asyncio

    label = runtime.endpoint.label if runtime and runtime.endpoint else "?"
    executor = runtime.settings.executor_id if runtime else "?"
    print(
        f"worker {executor} serving {sup.display_url} · model: {label} · ctrl+c to stop",
        flush=True,
    )
    await asyncio.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
