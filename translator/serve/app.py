"""The HTTP service: request checking, JSON errors, the Service that batches, and `create_app` (the route
handlers are in routes.py).

Routes:
  GET  /               the web page
  GET  /health         200 once every model is loaded and traced, 503 before
  GET  /v1/model       one model's card (?model=NAME; the first by default); /v1/models: all of them
  GET  /languages      LibreTranslate's language list
  POST /translate      LibreTranslate's request and answer: {"q", "source", "target", "format"} -> {"translatedText"}
                       (JSON, a form, a multipart form, or a query string with an empty body)
  POST /detect         LibreTranslate's: {"q"} -> [{"language", "confidence"}], most likely first
  POST /v1/translate   {"sentences", "beam_size", "n_best", "length_penalty", "attention", "model"} -> per sentence
                       the translation, its score, the n best and (on request) the attention weights

Errors are JSON, {"error": "..."} as LibreTranslate answers them: 400 malformed JSON, 422 a missing or
wrong-typed field, 413 too many sentences or characters, 404 an unknown model or language pair, 503
while loading. TensorFlow runs in one worker thread; the event loop only parses, batches and answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request

from translator.config import SearchConfig
from translator.serve.batching import Batcher
from translator.serve.models import ServedModel

PAGE = Path(__file__).parent / "page" / "index.html"


@dataclass(frozen=True)
class ServeSettings:
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for others
    max_batch: int = 64  # sentences per call of the search
    max_sentences: int = 64  # per request (413 above)
    max_characters: int = 10_000  # per request, all sentences together (413 above)
    max_beam: int = 16


BATCH_SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)  # at most a third of a batch is padding


# ten words: in a Spanish vocabulary 12 source tokens with START and END, the second XLA bucket (9-16)
XLA_WARM_UP = "uno dos tres cuatro cinco seis siete ocho nueve diez"


def padded_size(size: int) -> int:
    return next((b for b in BATCH_SIZES if b >= size), size)


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


# --- request checking -------------------------------------------------------------------------
MISSING = object()


class FormFields(dict):
    """The fields of a form or a query string: every value is text, so `field` reads numbers and booleans
    from it (`alternatives=3`)."""


def field(body: dict, name: str, kind, default=MISSING):
    """body[name] checked against `kind` (str, int, float, bool, "strings" or "text or strings"); 422 if wrong."""
    if name not in body or body[name] is None:
        if default is MISSING:
            raise ApiError(422, f"missing field '{name}'")
        return default
    value = body[name]
    if isinstance(body, FormFields) and isinstance(value, str) and kind in (int, float, bool):
        value = from_text(value, kind)
    ok = {
        str: isinstance(value, str),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        bool: isinstance(value, bool),
        "strings": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "text or strings": isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
    }[kind]
    if not ok:
        expected = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
                    "strings": "a list of strings", "text or strings": "a string or a list of strings"}[kind]
        raise ApiError(422, f"field '{name}' must be {expected}, got {json.dumps(value)[:80]}")
    return float(value) if kind is float else value


def from_text(value: str, kind):
    """A form's text as an int, float or bool where it reads as one (else as it is, for `field` to refuse)."""
    text = value.strip().lower()
    if kind is bool:
        return {"true": True, "1": True, "false": False, "0": False}.get(text, value)
    try:
        return kind(text)
    except ValueError:
        return value


async def json_body(request: Request, max_bytes: int) -> dict:
    """The request's fields: a JSON object, or an URL-encoded form (LibreTranslate's own page posts forms).
    A body over `max_bytes` is refused (413) before it is all read."""
    too_large = ApiError(413, f"the request body is over {max_bytes:,} bytes")
    if int(request.headers.get("content-length") or 0) > max_bytes:
        raise too_large
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > max_bytes:
            raise too_large
    content_type = request.headers.get("content-type", "")
    if not raw.strip() and request.query_params:  # deep-translator sends its fields as a query string
        return FormFields(request.query_params)
    if content_type.startswith("multipart/form-data"):
        return await multipart_fields(request, raw)
    form = content_type.startswith("application/x-www-form-urlencoded")
    if form and not raw.lstrip().startswith((b"{", b"[")):  # curl -d sends JSON with the form type
        fields = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return FormFields({key: values[0] if len(values) == 1 else values for key, values in fields.items()})
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, f"the request body is not valid JSON ({error})") from None
    if not isinstance(body, dict):
        raise ApiError(422, "the request body must be a JSON object")
    return body


async def multipart_fields(request: Request, raw: bytes) -> FormFields:
    """The text fields of a multipart body already read (files are left out); 400 where it does not parse."""
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def body():
        yield raw
        yield b""

    try:
        form = await MultiPartParser(request.headers, body()).parse()
    except MultiPartException as error:
        raise ApiError(400, f"the multipart body does not parse ({error.message})") from None
    return FormFields({key: value for key, value in form.items() if isinstance(value, str)})


def check_limits(sentences: list[str], settings: ServeSettings) -> None:
    if len(sentences) > settings.max_sentences:
        raise ApiError(413, f"{len(sentences)} sentences in one request; the limit is {settings.max_sentences}")
    characters = sum(len(s) for s in sentences)
    if characters > settings.max_characters:
        raise ApiError(413, f"{characters} characters in one request; the limit is {settings.max_characters}")


# --- the service ------------------------------------------------------------------------------
class Service:
    """`on_failure(error)`: called where a model's warm-up search raises (a bug: a model that loaded should
    search), so that the server stops and says why instead of answering 503 "still loading" for ever."""

    def __init__(self, models: list[ServedModel], settings: ServeSettings, on_failure=None):
        self.models, self.settings, self.on_failure = models, settings, on_failure
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tensorflow")

    def choose(self, name: str = "", source: str = "", target: str = "") -> ServedModel:
        if name:
            for model in self.models:
                if model.name == name:
                    return self.ready(model)
            raise ApiError(404, f"no model named '{name}'; served: {', '.join(m.name for m in self.models)}")
        # a model whose languages match before one whose languages are unknown
        for unknown_matches in (False, True):
            for model in self.models:
                if model.matches(source, target, unknown_matches):
                    return self.ready(model)
        pairs = ", ".join(f"{m.spec.source or '?'}->{m.spec.target or '?'}" for m in self.models)
        raise ApiError(404, f"no model translates {source or 'any'} -> {target or 'any'}; served: {pairs}")

    @staticmethod
    def ready(model: ServedModel) -> ServedModel:
        if not model.ready:
            raise ApiError(503, f"model '{model.name}' is still loading; try again in a few seconds")
        return model

    def search_setting(self, body: dict, model: ServedModel) -> SearchConfig:
        default = model.translator.default_search
        beam = field(body, "beam_size", int, default.beam_size)
        n_best = field(body, "n_best", int, 1)
        alpha = field(body, "length_penalty", float, default.length_penalty)
        if not 1 <= beam <= self.settings.max_beam:
            raise ApiError(422, f"field 'beam_size' must be from 1 to {self.settings.max_beam}, got {beam}")
        if not 1 <= n_best <= beam:
            raise ApiError(422, f"field 'n_best' must be from 1 to beam_size ({beam}), got {n_best}")
        if not 0 <= alpha <= 5:
            raise ApiError(422, f"field 'length_penalty' must be from 0 to 5, got {alpha}")
        return model.translator.search_setting(beam_size=beam, length_penalty=alpha, n_best=n_best)

    @staticmethod
    def run_batch(translator, sentences: list[str], setting: tuple[SearchConfig, bool]) -> list:
        """[(Translation, alignment or None)]: the batcher's call, in the TensorFlow thread.

        The batch is padded to one of a few sizes with copies of its shortest sentence (the search is batch
        invariant, so they change nothing else): every new batch shape held on to memory (docs/performance.md).
        """
        search, with_attention = setting
        filler = min((s for s in sentences if s.strip()), key=len, default="")
        padded = sentences + [filler] * (padded_size(len(sentences)) - len(sentences))
        if with_attention:
            return translator.translate_with_attention(padded, search)[: len(sentences)]
        return [(result, None) for result in translator.translate(padded, search)[: len(sentences)]]

    # --- lifecycle -------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, _app):
        tasks = []
        for model in self.models:
            model.batcher = Batcher(lambda sentences, setting, t=model.translator: self.run_batch(t, sentences, setting),
                                    self.executor, self.settings.max_wait_ms / 1000, self.settings.max_batch)
            tasks.append(asyncio.create_task(model.batcher.run_forever()))
            tasks.append(asyncio.create_task(self.warm_up(model)))
        yield
        for task in tasks:
            task.cancel()
        self.executor.shutdown(wait=True)

    async def warm_up(self, model: ServedModel) -> None:
        try:
            await self._warm_up(model)
        except Exception as error:  # noqa: BLE001 - reported, not lost in a task nobody awaits
            if self.on_failure is None:
                raise
            self.on_failure(error)

    async def _warm_up(self, model: ServedModel) -> None:
        """Trace the default search (with attention too, for the page) and greedy search once, then run the
        default search once at every padded batch size: TensorFlow's kernels keep per-shape state, so the
        memory a batch size costs is spent before the first request instead of during the first thousands."""
        started, translator, loop = time.monotonic(), model.translator, asyncio.get_running_loop()
        settings = [(translator.default_search, False), (SearchConfig(greedy=True), False)]
        settings += [(translator.default_search, True)] if translator.has_attention else []
        for setting in settings:
            await loop.run_in_executor(self.executor, self.run_batch, translator, ["Hola."], setting)
        for size in (b for b in BATCH_SIZES if 1 < b <= self.settings.max_batch):
            await loop.run_in_executor(self.executor, self.run_batch, translator, ["Hola."] * size, settings[0])
        if translator.xla_max_batch:  # XLA compiles per source length: the short ones most requests have
            await loop.run_in_executor(self.executor, self.run_batch, translator, [XLA_WARM_UP], settings[0])
        model.ready = True
        model.card["traced_in_s"] = round(time.monotonic() - started, 2)


def create_app(models: list[ServedModel], settings: ServeSettings = ServeSettings(), on_failure=None) -> Starlette:
    from translator.serve.routes import Routes  # routes.py builds on this module's helpers

    service = Service(models, settings, on_failure)
    routes = Routes(service, PAGE.read_text(encoding="utf-8"))
    # any origin may call the API (LibreTranslate answers so too): a browser app elsewhere sends a preflight first
    cors = Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"])
    return Starlette(routes=routes.table(), lifespan=service.lifespan, exception_handlers=routes.error_handlers(),
                     middleware=[cors])
