"""Fetching public corpora where the internet is reachable.

Only the download itself needs the network; everything after it is
`data import` on the local file, which is also the way forward offline.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from translator.errors import OptionError, TranslatorError

TUTORIAL_URL = "http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip"
ANKI_URL = "https://www.manythings.org/anki/{pair}.zip"
ANKI_PAIRS = ("spa-eng", "fra-eng", "deu-eng", "ita-eng", "por-eng", "nld-eng", "tur-eng", "rus-eng")
CORPORA = {"tutorial-spa-eng": TUTORIAL_URL} | {f"anki-{pair}": ANKI_URL.format(pair=pair) for pair in ANKI_PAIRS}
TIMEOUT_SECONDS = 10


def download_corpus(name: str, out_dir: Path) -> Path:
    """Download corpus `name` into `out_dir`; never overwrites a file already there."""
    if name not in CORPORA:
        raise OptionError(f"unknown corpus '{name}'; known: {', '.join(CORPORA)}")
    url = CORPORA[name]
    destination = Path(out_dir) / f"{name}.zip"
    if destination.exists():
        raise OptionError(f"{destination} already exists; remove it to download again")
    request = urllib.request.Request(url, headers={"User-Agent": "translator (corpus download)"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            payload = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TranslatorError(
            f"cannot download {name} from {url} ({reason}); fetch it where the internet is reachable, "
            f"then run: translator data import FILE.zip --out DIR"
        ) from None
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    partial.write_bytes(payload)
    partial.replace(destination)
    return destination
