"""`serve`: every route and error in-process (Starlette's test client), then a live server on 127.0.0.1 for
batching, disconnects and SIGTERM, and the web page in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from conftest import REPO, TOY
from translator.config import SearchConfig
from translator.data.corpus import CorpusFormat, read_corpus
from translator.serve.app import ServeSettings, create_app
from translator.serve.models import ModelSpec
from translator.serve.models import ServedModel
from translator.serve.run import load_models, serve

SETTINGS = ServeSettings(max_wait_ms=20, max_batch=16, max_sentences=8, max_characters=300)


@pytest.fixture(scope="module")
def toy_pairs():
    return read_corpus(TOY, CorpusFormat(reverse=True)).pairs


def wait_until_ready(get, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if get("/health").status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError("the server never became ready")


@pytest.fixture(scope="module")
def client(toy_model):
    """Two models from the toy folder: es->en, and the same weights served as xx->yy."""
    models = load_models([ModelSpec(toy_model, "es", "en"), ModelSpec(toy_model, "xx", "yy")])
    with TestClient(create_app(models, SETTINGS)) as client:
        wait_until_ready(client.get)
        yield client


def test_health_is_503_until_the_search_is_traced(toy_model):
    app = create_app(load_models([ModelSpec(toy_model, "es", "en")]), SETTINGS)
    client = TestClient(app)  # not entered: no lifespan, so nothing is ever traced
    response = client.get("/health")
    assert response.status_code == 503 and response.json()["status"] == "loading"
    assert client.post("/translate", json={"q": "Hola."}).status_code == 503


def test_libretranslate_request_and_answer(client, toy_pairs):
    source, target = toy_pairs.source.iloc[0], toy_pairs.target.iloc[0]
    response = client.post("/translate", json={"q": source, "source": "es", "target": "en", "format": "text"})
    assert response.status_code == 200
    assert response.json() == {"translatedText": target}
    many = client.post("/translate", json={"q": list(toy_pairs.source[:3]), "source": "es", "target": "en"}).json()
    assert many == {"translatedText": list(toy_pairs.target[:3])}


def test_libretranslate_auto_source_lines_alternatives_and_forms(client, toy_pairs):
    text = "\n".join(toy_pairs.source[:2])
    answer = client.post("/translate", json={"q": text, "source": "auto", "target": "en", "alternatives": 2}).json()
    assert answer["translatedText"] == "\n".join(toy_pairs.target[:2])
    assert answer["detectedLanguage"]["language"] == "es"
    assert len(answer["alternatives"]) == 2 and all(a != answer["translatedText"] for a in answer["alternatives"])
    form = client.post("/translate", data={"q": toy_pairs.source.iloc[0], "source": "es", "target": "en"})
    assert form.json() == {"translatedText": toy_pairs.target.iloc[0]}


def test_libretranslate_clients_forms_multipart_query_strings_and_preflights(client, toy_pairs):
    source, target = toy_pairs.source.iloc[0], toy_pairs.target.iloc[0]
    form = client.post("/translate", data={"q": source, "source": "es", "target": "en", "alternatives": "2"}).json()
    assert form["translatedText"] == target and len(form["alternatives"]) == 2
    multipart = client.post("/translate", data={"q": source, "source": "es", "target": "en"}, files={"x": b""})
    assert multipart.json() == {"translatedText": target}
    query = client.post("/translate", params={"q": source, "source": "es", "target": "en"})  # deep-translator's way
    assert query.json() == {"translatedText": target}
    preflight = client.options("/translate", headers={"Origin": "http://elsewhere.example",
                                                      "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] in ("*", "http://elsewhere.example")


def test_detect_names_the_language_of_a_text(client):
    spanish = client.post("/detect", json={"q": "¿Dónde está la estación de tren más cercana?"})
    assert spanish.status_code == 200 and spanish.json()[0]["language"] == "es" and spanish.json()[0]["confidence"] > 50
    assert client.post("/detect", data={"q": "Where is the nearest train station?"}).json()[0]["language"] == "en"
    assert client.post("/detect", json={"q": " "}).status_code == 422


def test_models_are_chosen_by_languages_or_name(client):
    assert client.post("/translate", json={"q": "Hola.", "source": "xx", "target": "yy"}).status_code == 200
    assert client.post("/v1/translate", json={"sentences": ["Hola."], "model": "model-2"}).json()["model"] == "model-2"
    unknown_pair = client.post("/translate", json={"q": "Hola.", "source": "de", "target": "en"})
    assert unknown_pair.status_code == 404 and "de -> en" in unknown_pair.json()["error"]
    unknown_name = client.post("/v1/translate", json={"sentences": ["Hola."], "model": "nope"})
    assert unknown_name.status_code == 404 and "nope" in unknown_name.json()["error"]
    languages = client.get("/languages").json()
    assert {"code": "es", "name": "Spanish", "targets": ["en"]} in languages


def test_language_codes_of_either_iso_standard_name_the_same_model():
    """`spa-eng=DIR` as a folder named spa-eng: clients send LibreTranslate's two-letter codes, or Tatoeba's."""
    for text in ("spa-eng=models/m", "ES-en=models/m", "models/spa-eng"):
        spec = ModelSpec.parse(text)
        assert (spec.source, spec.target) == ("es", "en")
        model = ServedModel("m", spec, translator=None)
        assert model.matches("es", "en") and model.matches("spa", "eng") and not model.matches("de", "en")


def test_a_model_of_known_languages_is_chosen_before_one_of_unknown_languages():
    from translator.serve.app import Service

    unknown = ServedModel("unknown", ModelSpec(Path("unknown")), translator=None, ready=True)
    spanish = ServedModel("spanish", ModelSpec(Path("spanish"), "es", "en"), translator=None, ready=True)
    service = Service([unknown, spanish], SETTINGS)
    assert service.choose(source="es", target="en") is spanish
    assert service.choose(source="spa", target="eng") is spanish
    assert service.choose(source="de", target="en") is unknown  # no model declares it: one that may
    assert service.choose() is unknown  # nothing asked: the first


def test_v1_translate_gives_scores_n_best_and_the_attention_of_each_sentence(client, toy_pairs):
    sentences = [toy_pairs.source.iloc[0], "", toy_pairs.source.iloc[1]]
    answer = client.post("/v1/translate", json={"sentences": sentences, "beam_size": 4, "n_best": 3,
                                                "length_penalty": 0.0, "attention": True}).json()
    first, empty, _ = answer["translations"]
    assert first["translation"] == toy_pairs.target.iloc[0] and empty["translation"] == ""
    assert len(first["n_best"]) == 3 and first["n_best"][0]["score"] == pytest.approx(first["score"])
    assert [t["score"] for t in first["n_best"]] == sorted((t["score"] for t in first["n_best"]), reverse=True)
    attention = first["attention"]
    assert len(attention["weights"]) == len(attention["output_tokens"])
    assert all(len(row) == len(attention["source_tokens"]) and sum(row) == pytest.approx(1, abs=1e-3)
               for row in attention["weights"])
    assert empty["attention"] is None


def test_the_model_card(client):
    card = client.get("/v1/model").json()
    assert card["source"] == "es" and card["target"] == "en" and card["direction"] == "Spanish -> English"
    assert card["decoder"] == "attention" and card["units"] == 64 and card["has_attention"] is True
    assert {"beam_size", "length_penalty"} <= set(card["search"])
    assert card["precision"] == "float32" and card["xla_max_batch"] == 0  # load_models' defaults
    assert client.get("/v1/model", params={"model": "model-2"}).json()["target"] == "yy"
    assert client.get("/v1/model", params={"model": "nope"}).status_code == 404
    assert len(client.get("/v1/models").json()["models"]) == 2


@pytest.mark.parametrize("body, status, fragment", [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 422, "JSON object"),
    (b"{}", 422, "missing field 'sentences'"),
    (b'{"sentences": "Hola."}', 422, "list of strings"),
    (b'{"sentences": ["Hola.", 3]}', 422, "list of strings"),
    (b'{"sentences": ["Hola."], "beam_size": "5"}', 422, "beam_size"),
    (b'{"sentences": ["Hola."], "beam_size": 0}', 422, "beam_size"),
    (b'{"sentences": ["Hola."], "beam_size": 2, "n_best": 3}', 422, "n_best"),
    (b'{"sentences": ["Hola."], "length_penalty": -1}', 422, "length_penalty"),
    (b'{"sentences": ["Hola."], "attention": "yes"}', 422, "attention"),
    (b'{"sentences": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]}', 413, "9 sentences"),
    (json.dumps({"sentences": ["x" * 301]}).encode(), 413, "301 characters"),
    (json.dumps({"sentences": ["x" * 2_000_000]}).encode(), 413, "request body is over"),
], ids=lambda value: value[:40].decode() if isinstance(value, bytes) else str(value))
def test_bad_v1_requests_get_a_json_error(client, body, status, fragment):
    response = client.post("/v1/translate", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]


@pytest.mark.parametrize("body, status", [
    ({}, 422), ({"q": 5}, 422), ({"q": "Hola.", "format": "html"}, 422), ({"q": ["a"] * 9}, 413),
    ({"q": "Hola.", "source": "es", "target": 7}, 422), ({"q": "Hola.", "alternatives": "2"}, 422),
    ({"q": ""}, 422), ({"q": " \n "}, 422), ({"q": "Hola.", "alternatives": -1}, 422),
    ({"q": "Hola.", "alternatives": 2000}, 422),
])
def test_bad_libretranslate_requests_get_a_json_error(client, body, status):
    response = client.post("/translate", json=body)
    assert response.status_code == status and response.json()["error"]


def test_unknown_route_and_method(client):
    assert client.get("/nope").status_code == 404
    assert client.get("/translate").status_code == 405


def test_the_servers_connections_send_without_delay():
    """TCP_NODELAY on the connections the listening socket accepts: without it every request after the first on a
    keep-alive connection waited 40 ms for the client's delayed acknowledgement (serve/run.py)."""
    from translator.serve.run import listening_socket

    with listening_socket("127.0.0.1", 0) as server, socket.create_connection(server.getsockname()):
        accepted, _ = server.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


# --- a live server ------------------------------------------------------------------------------------
class LiveServer:
    def __init__(self, model_dir: Path, *options: str):
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "cli.py"), "serve", "--model-dir", f"es-en={model_dir}", "--port", "0",
             *options], stderr=subprocess.PIPE, text=True, cwd=REPO)
        first_line = self.process.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", first_line)
        assert match, first_line + self.process.stderr.read()
        self.url = f"http://127.0.0.1:{match.group(1)}"
        wait_until_ready(self.get)

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                return _Response(response.status, response.read())
        except urllib.error.HTTPError as error:
            return _Response(error.code, error.read())
        except OSError:
            return _Response(0, b"")

    def post(self, path, body: dict):
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class _Response:
    def __init__(self, status_code, content):
        self.status_code, self.content = status_code, content

    def json(self):
        return json.loads(self.content)


@pytest.fixture(scope="module")
def live(toy_model):
    server = LiveServer(toy_model, "--max-wait-ms", "30")
    yield server
    server.stop()


@pytest.mark.slow
def test_concurrent_requests_are_batched_and_answered_as_one_by_one(live, toy_pairs):
    sentences = list(toy_pairs.source[:24]) + ["¿Dónde está el perro grande?", "gato", ""]
    one_by_one = [live.post("/v1/translate", {"sentences": [s], "beam_size": 3})["translations"][0] for s in sentences]
    calls_before = live.get("/health").json()["models"]["model"]["search_calls"]
    with ThreadPoolExecutor(max_workers=len(sentences)) as pool:
        together = list(pool.map(lambda s: live.post("/v1/translate", {"sentences": [s], "beam_size": 3})["translations"][0],
                                 sentences))
    calls = live.get("/health").json()["models"]["model"]["search_calls"] - calls_before
    assert [t["translation"] for t in together] == [t["translation"] for t in one_by_one]
    for alone, batched in zip(one_by_one, together):
        assert batched["score"] == pytest.approx(alone["score"], abs=1e-4)
    assert calls < len(sentences) / 2, f"{len(sentences)} concurrent requests took {calls} search calls"


@pytest.mark.slow
def test_a_client_that_disconnects_costs_nothing_else(live, toy_pairs):
    host, port = live.url.removeprefix("http://").split(":")
    for _ in range(5):
        body = json.dumps({"sentences": list(toy_pairs.source[:8]), "beam_size": 8}).encode()
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[: len(body) // 2])
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)  # whole, then gone
    answer = live.post("/translate", {"q": toy_pairs.source.iloc[0]})
    assert answer["translatedText"] == toy_pairs.target.iloc[0]
    assert live.process.poll() is None


@pytest.mark.slow
def test_sigterm_finishes_the_requests_in_flight_then_exits_0(toy_model, toy_pairs):
    server = LiveServer(toy_model, "--max-wait-ms", "3000")  # a request waits 3 s for company
    try:
        answers = []
        thread = threading.Thread(target=lambda: answers.append(server.post("/translate", {"q": toy_pairs.source.iloc[0]})))
        thread.start()
        deadline = time.monotonic() + 30
        while server.get("/health").json()["models"]["model"]["requests"] == 0:  # until it waits in the batcher
            assert time.monotonic() < deadline, "the request never reached the server"
            time.sleep(0.05)
        server.process.send_signal(signal.SIGTERM)
        thread.join(timeout=60)
        assert server.process.wait(timeout=60) == 0
        assert [a["translatedText"] for a in answers] == [toy_pairs.target.iloc[0]]
        assert "Traceback" not in server.process.stderr.read()
    finally:
        server.stop()


class FailingTranslator:
    """Loads, but its search raises: what a bug in tracing looks like to the service."""

    default_search, has_attention, xla_max_batch = SearchConfig(), False, 0

    def translate(self, sentences, search):
        raise RuntimeError("the search failed to trace")


def test_a_model_whose_warm_up_fails_stops_the_server_with_its_error():
    """Before, the warm-up's exception was lost in its task and /health answered 503 'loading' for ever."""
    model = ServedModel("broken", ModelSpec(Path("broken"), "es", "en"), FailingTranslator())
    # a server that never stops gets SIGTERM, which `serve` turns into a plain return (SIGINT would end pytest)
    guard, handler = threading.Timer(60, lambda: os.kill(os.getpid(), signal.SIGTERM)), signal.getsignal(signal.SIGTERM)
    guard.start()
    try:
        with pytest.raises(RuntimeError, match="failed to trace"):
            serve([model], "127.0.0.1", 0, SETTINGS, echo=lambda _: None)
    finally:
        guard.cancel()
        signal.signal(signal.SIGTERM, handler)


@pytest.mark.slow
def test_serve_refuses_a_damaged_folder_and_a_port_in_use(toy_model, tmp_path, live):
    damaged = tmp_path / "model"
    shutil.copytree(toy_model, damaged)
    (damaged / "config.json").write_text("{")
    cli = [sys.executable, str(REPO / "cli.py"), "serve"]
    result = subprocess.run([*cli, "--model-dir", str(damaged)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "config.json" in result.stderr
    port = live.url.rsplit(":", 1)[1]
    result = subprocess.run([*cli, "--model-dir", str(toy_model), "--port", port], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and f"127.0.0.1:{port}" in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


# --- the page in a real browser ------------------------------------------------------------------------
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture
def browser(tmp_path):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


SCREENSHOTS = REPO / "test-output"


@pytest.mark.slow
def test_the_page_translates_and_draws_the_attention(live, browser, toy_pairs):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live.url + "/")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.find_element(By.ID, "direction").text == "Spanish -> English")
    assert "decoder" in browser.find_element(By.ID, "card").text
    browser.find_element(By.ID, "source").send_keys(toy_pairs.source.iloc[0])
    browser.find_element(By.ID, "translate").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results .translation"))
    assert browser.find_element(By.CSS_SELECTOR, "#results .translation").text == toy_pairs.target.iloc[0]
    heatmap = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#heatmap-svg"))[0]
    output_tokens = heatmap.find_elements(By.CSS_SELECTOR, "text.output-token")
    source_tokens = heatmap.find_elements(By.CSS_SELECTOR, "text.source-token")
    assert len(heatmap.find_elements(By.CSS_SELECTOR, "rect.weight")) == len(output_tokens) * len(source_tokens) > 0
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "serve-page.png"))
    browser.set_window_size(390, 844)  # a phone
    overflow = browser.execute_script("return document.querySelector('main').scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone's window"
    browser.save_screenshot(str(SCREENSHOTS / "serve-page-phone.png"))
