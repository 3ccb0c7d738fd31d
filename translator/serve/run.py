"""Loading the model folders and running the service on uvicorn until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import socket

from translator.errors import OptionError
from translator.serve.models import ModelSpec, ServedModel, model_card


def load_models(specs: list[ModelSpec], xla_max_batch: int = 0, precision_name: str = "float32") -> list[ServedModel]:
    """Each folder loaded once (a damaged one is refused before the port opens), named by its folder; searches of
    up to `xla_max_batch` sentences XLA-compiled, layers computing in `precision_name` (Translator.load)."""
    from translator.decoding.inference import Translator

    models = []
    for spec in specs:
        name = spec.path.resolve().name
        if any(m.name == name for m in models):
            name = f"{name}-{len(models) + 1}"
        translator = Translator.load(spec.path, xla_max_batch, precision_name)
        models.append(ServedModel(name, spec, translator, card=model_card(name, spec, translator)))
    return models


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind here, so that a port in use is one clear line rather than uvicorn's log and exit status 1.

    TCP_NODELAY, which the connections it accepts inherit: without it a response written in two pieces waited for
    the client's delayed acknowledgement of the first, and every request after the first on a keep-alive
    connection waited for it."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError as error:
        raise OptionError(f"cannot listen on {host}:{port} ({error.strerror or error})") from None
    sock.listen(2048)
    return sock


def serve(models: list[ServedModel], host: str, port: int, settings, echo=print, debug: bool = False) -> None:
    import uvicorn

    from translator.serve.app import create_app

    sock = listening_socket(host, port)
    failures = []

    def stop(error: Exception) -> None:  # a model's warm-up search failed: stop, then raise it here
        failures.append(error)
        server.should_exit = True

    config = uvicorn.Config(create_app(models, settings, on_failure=stop), log_level="info" if debug else "warning",
                            access_log=debug, lifespan="on", timeout_graceful_shutdown=30)
    server = uvicorn.Server(config)
    # uvicorn finishes the requests in flight on SIGTERM, then raises the signal again for the handler it
    # found: a no-op one here, so that the process then exits 0 instead of dying of the signal.
    signal.signal(signal.SIGTERM, lambda *_: None)
    names = ", ".join(f"{m.name} ({m.spec.source or '?'}->{m.spec.target or '?'})" for m in models)
    echo(f"serving {names} on http://{host}:{sock.getsockname()[1]}/ (tracing the search first; Ctrl-C or SIGTERM stops)")
    server.run(sockets=[sock])
    if failures:
        raise failures[0]
    echo("stopped")
