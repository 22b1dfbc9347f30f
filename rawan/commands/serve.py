"""`rawan serve`: run the classification service (uvicorn, one process; ONNX threads set explicitly)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="run the HTTP API and analyst page (settings: RAWAN_* env or a settings file)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--host", default=None, help="bind address (default: settings, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: settings, 8000)")
    p.add_argument("--model", default=None, help="model directory, NAME@champion, NAME@VERSION or NAME")
    p.add_argument("--models-dir", default=None, help="registry root")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (0 = all cores)")
    p.add_argument("--no-batching", action="store_true", help="one request per ONNX call (benchmark baseline)")
    p.add_argument("--reload-poll", type=float, default=None, help="poll the champion pointer every N seconds")
    p.add_argument("--settings", default=None, help="settings file (dotenv syntax, RAWAN_* keys)")
    p.set_defaults(handler=run)


def run(args) -> int:
    import uvicorn

    from serve.app import create_app
    from serve.config import Settings
    from serve.logging import uvicorn_log_config

    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "model": args.model,
                                   "models_dir": args.models_dir, "threads": args.threads,
                                   "reload_poll_s": args.reload_poll}.items() if v is not None}
    if args.no_batching:
        overrides["batching"] = False
    settings = Settings(_env_file=args.settings, **overrides) if args.settings else Settings(**overrides)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=uvicorn_log_config(settings.log_level),
                access_log=False, workers=1, timeout_graceful_shutdown=10)
    return 0
