"""The routes of the service (listed in app.py's docstring), each a method reading its request off a `Service`."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from translator.decoding.translation import translation_record
from translator.serve.app import ApiError, Service, check_limits, field, json_body
from translator.serve.models import LANGUAGE_NAMES


class Routes:
    def __init__(self, service: Service, page_html: str):
        self.service, self.models, self.settings = service, service.models, service.settings
        self.page_html = page_html
        self.max_bytes = 6 * self.settings.max_characters + 65_536  # max_characters of JSON-escaped text, and the rest

    def table(self) -> list[Route]:
        return [
            Route("/", self.page), Route("/health", self.health), Route("/v1/model", self.model_card),
            Route("/v1/models", self.model_cards), Route("/languages", self.languages),
            Route("/translate", self.libretranslate, methods=["POST"]),
            Route("/detect", self.detect, methods=["POST"]),
            Route("/v1/translate", self.translate, methods=["POST"]),
        ]

    def error_handlers(self) -> dict:
        return {ApiError: self.api_error, HTTPException: self.http_error, Exception: self.server_error}

    async def page(self, _request):
        return HTMLResponse(self.page_html)

    async def health(self, _request):
        loading = [m.name for m in self.models if not m.ready]
        return JSONResponse({"status": "loading" if loading else "ok", "loading": loading,
                             "models": {m.name: {"requests": m.batcher.requests if m.batcher else 0,
                                                 "search_calls": m.batcher.calls if m.batcher else 0}
                                        for m in self.models}}, status_code=503 if loading else 200)

    async def model_card(self, request):
        return JSONResponse(self.service.choose(request.query_params.get("model", self.models[0].name)).card)

    async def model_cards(self, _request):
        return JSONResponse({"models": [m.card for m in self.models]})

    async def languages(self, _request):
        models = self.models
        codes = sorted({code for m in models for code in (m.spec.source, m.spec.target) if code})
        return JSONResponse([{"code": code, "name": LANGUAGE_NAMES.get(code, code),
                              "targets": sorted({m.spec.target for m in models if m.spec.source == code})}
                             for code in codes])

    async def libretranslate(self, request):
        body = await json_body(request, self.max_bytes)
        q = field(body, "q", "text or strings")
        if isinstance(q, str) and not q.strip():  # a list keeps its empty texts, each answered with an empty one
            raise ApiError(422, "field 'q' is empty: nothing to translate")
        if field(body, "format", str, "text") not in ("text", ""):
            raise ApiError(422, "field 'format': only \"text\" is supported")
        alternatives = field(body, "alternatives", int, 0)
        if not 0 <= alternatives < self.settings.max_beam:
            raise ApiError(422, f"field 'alternatives' must be from 0 to {self.settings.max_beam - 1}, got {alternatives}")
        source, target = field(body, "source", str, "auto"), field(body, "target", str, "")
        model = self.service.choose(field(body, "model", str, ""), source, target)
        texts = [q] if isinstance(q, str) else q
        lines = [text.split("\n") for text in texts]  # a line is a sentence
        flat = [line for text in lines for line in text]
        check_limits(flat, self.settings)
        search = model.translator.search_setting(beam_size=max(model.translator.default_search.beam_size, alternatives + 1),
                                                 n_best=alternatives + 1)
        results = iter(result for result, _ in await model.batcher.submit(flat, (search, False)))
        translated = [[next(results) for _ in text] for text in lines]

        def hypothesis(text_results, rank):
            """The rank-th hypothesis of every line of one text, joined as the text was (the best where fewer)."""
            return "\n".join(r.alternatives[rank][0] if rank < len(r.alternatives) else r.text for r in text_results)

        answer = {"translatedText": [hypothesis(t, 0) for t in translated]}
        if alternatives:
            answer["alternatives"] = [[hypothesis(t, rank) for rank in range(1, alternatives + 1)] for t in translated]
        if isinstance(q, str):
            answer = {key: value[0] for key, value in answer.items()}
        if source == "auto":
            answer["detectedLanguage"] = {"language": model.spec.source, "confidence": 100.0}
        return JSONResponse(answer)

    async def detect(self, request):
        from translator.data.languages import identify

        text = field(await json_body(request, self.max_bytes), "q", str)
        if not text.strip():
            raise ApiError(422, "field 'q' is empty: nothing to identify")
        candidates = await asyncio.get_running_loop().run_in_executor(None, identify, text)
        return JSONResponse([{"language": code, "confidence": round(100 * confidence, 1)}
                             for code, confidence in candidates[:3]])

    async def translate(self, request):
        body = await json_body(request, self.max_bytes)
        sentences = field(body, "sentences", "strings")
        model = self.service.choose(field(body, "model", str, ""), field(body, "source", str, ""), field(body, "target", str, ""))
        search = self.service.search_setting(body, model)
        with_attention = field(body, "attention", bool, False)
        if with_attention and not model.translator.has_attention:
            raise ApiError(422, f"field 'attention': model '{model.name}' has no attention weights (its decoder "
                                f"is '{model.card['decoder']}')")
        check_limits(sentences, self.settings)
        results = await model.batcher.submit(sentences, (search, with_attention))
        translations = [translation_record(sentence, result, alignment, with_attention)
                        for sentence, (result, alignment) in zip(sentences, results)]
        return JSONResponse({"model": model.name, "translations": translations})

    async def api_error(self, _request, error: ApiError):
        return JSONResponse({"error": error.message}, status_code=error.status)

    async def http_error(self, _request, error: HTTPException):
        return JSONResponse({"error": error.detail}, status_code=error.status_code)

    async def server_error(self, _request, error: Exception):
        return JSONResponse({"error": f"internal error ({type(error).__name__}: {str(error)[:200]})"}, status_code=500)
