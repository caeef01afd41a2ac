"""Command line: serve, check-config, simulate, generate."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace

from exporter import __version__
from exporter.config import model as config_module
from exporter.config.fields import same_socket
from exporter.config.model import ConfigError


def _load(path: str | None) -> config_module.Config:
    return config_module.load(path) if path else config_module.default()


def cmd_serve(args: argparse.Namespace) -> int:
    from exporter import logs, service
    from exporter.persistence.store import StateDirError

    config = _load(args.config)
    try:
        if args.ocpp_listen:
            config = replace(config, ocpp_listen=config_module.parse_listen(args.ocpp_listen))
        if args.metrics_listen:
            config = replace(config, metrics_listen=config_module.parse_listen(args.metrics_listen))
    except ValueError as exc:
        raise ConfigError("command line", "--ocpp-listen/--metrics-listen", str(exc)) from None
    if same_socket(config.ocpp_listen, config.metrics_listen):
        raise ConfigError(
            "command line",
            "--metrics-listen",
            f"the same address as the OCPP listener ({config.ocpp_listen}): "
            f"each listener needs its own port",
        )
    if args.state_dir:
        config = replace(config, state_dir=args.state_dir)
    if args.log_level or args.log_format:
        config = replace(
            config,
            logging=config_module.Logging(
                level=args.log_level or config.logging.level,
                format=args.log_format or config.logging.format,
            ),
        )
    logs.setup(config.logging.level, config.logging.format)
    try:
        svc = service.build(config)
        asyncio.run(service.run(svc))
    except (StateDirError, service.ListenError) as exc:
        # Start-up problems an operator fixes: one line, not a traceback.
        print(f"ocpp-exporter: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from exporter.security.protections import tls_contexts
    from exporter.service import build_catalog

    config = config_module.load(args.file)
    build_catalog(config)
    tls_contexts(config)
    stations = sum(len(site.stations) for site in config.sites)
    print(f"{args.file}: valid ({len(config.sites)} sites, {stations} stations)")
    return 0


def cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from exporter.security.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("ocpp-exporter: the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("ocpp-exporter: empty password", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from exporter.simulator import fleet as simulator

    return simulator.main(args)


def cmd_pager(args: argparse.Namespace) -> int:
    from exporter import logs
    from exporter.pager.app import run

    try:
        listen = config_module.parse_listen(args.listen)
    except ValueError as exc:
        raise ConfigError("command line", "--listen", str(exc)) from None
    logs.setup("info", args.log_format)
    run(listen.host, listen.port)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from exporter.generate import main as generate_main

    catalog = None
    if args.config:
        # The generators stay offline: they get the overridden catalog, not the configuration.
        from exporter.config import model as config_module
        from exporter.service import build_catalog

        catalog = build_catalog(config_module.load(args.config))
    return generate_main(args, catalog)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ocpp-exporter",
        description="OCPP charging stations in, Prometheus metrics and actionable alerts out.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the OCPP endpoint and the metrics listener")
    serve.add_argument("--config", metavar="FILE", help="YAML configuration (default: embedded)")
    serve.add_argument("--ocpp-listen", metavar="HOST:PORT", help="OCPP websocket listener")
    serve.add_argument("--metrics-listen", metavar="HOST:PORT", help="HTTP listener for /metrics")
    serve.add_argument(
        "--state-dir", metavar="DIR", help="keep fleet state here across restarts (state_dir)"
    )
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--log-format", choices=["text", "json"])
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file", metavar="FILE")
    check.set_defaults(func=cmd_check_config)

    hp = sub.add_parser(
        "hash-password",
        help="hash a password (read from stdin, or prompted) for station or metrics credentials",
    )
    hp.set_defaults(func=cmd_hash_password)

    sim = sub.add_parser("simulate", help="run a fleet of simulated OCPP charging stations")
    sim.add_argument("--url", required=True, help="ws://HOST:PORT/ocpp (station id is appended)")
    sim.add_argument("--stations", type=int, default=10, metavar="N")
    sim.add_argument("--connectors", type=int, default=2, metavar="K")
    sim.add_argument("--scenario", metavar="FILE", help="YAML fault scenario")
    sim.add_argument("--ocpp-version", default="1.6", choices=["1.6"])
    sim.add_argument("--id-prefix", default="SIM-", help="station ids are PREFIX0001, ...")
    sim.add_argument("--duration", type=float, default=0, help="stop after SECONDS (0: run on)")
    sim.add_argument(
        "--connect-rate", type=float, default=200.0, help="new connections per second (ramp-up)"
    )
    sim.add_argument("--progress", type=float, default=5.0, help="progress line every SECONDS")
    sim.set_defaults(func=cmd_simulate)

    pager = sub.add_parser(
        "pager",
        help="a demo pager: receive Alertmanager webhooks, log and show each page with its steps",
    )
    pager.add_argument("--listen", default="127.0.0.1:9099", metavar="HOST:PORT")
    pager.add_argument("--log-format", choices=["text", "json"], default="text")
    pager.set_defaults(func=cmd_pager)

    gen = sub.add_parser(
        "generate", help="regenerate alerting/, grafana/ and docs from the catalog"
    )
    gen.add_argument("--check", action="store_true", help="exit 1 if committed files are stale")
    gen.add_argument("--root", default=".", help="repository root to write into")
    gen.add_argument(
        "--config",
        metavar="FILE",
        help="apply this configuration's catalog overrides (severity, for, text) to the rules",
    )
    gen.set_defaults(func=cmd_generate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"ocpp-exporter: configuration error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
