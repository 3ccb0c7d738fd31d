"""A fast start for `translate`: the model's translate graph cached as a SavedModel, outside the model folder.

Importing all of TensorFlow and Keras, building the Keras model, loading its
weights and tracing the beam search cost about 4 s before the first
translation (the default model, on this project's 2-core machines); a whole
`translate` that loads the same graph as a SavedModel with only TensorFlow's
runtime, about 1.7 s. So the first plain `translate` of a model (and a
search setting) exports it into the cache, and later ones load that.

The cache is a folder per model and setting under $TRANSLATOR_CACHE (default
~/.cache/translator; "off" turns it off), named by a digest of every model
file the graph depends on, of the setting and of the package's code:
retraining, `shrink`, another search setting or another version of this
code make a new entry and never reuse a stale one; the cache keeps the
latest used 8 (`prune`). Nothing is written into the model folder, which may
be read-only or shipped; a folder can carry its graph itself, so that not even
the first run builds one (carried_graph.py, which loads it as this module does).

What such a process loads is kept small: `translate` imports TensorFlow's
runtime without its public Python API and the Keras that API imports
(tensorflow_runtime.py), so this module imports the functions behind `tf.*`
from their own modules, where it uses them: where a release of TensorFlow moves
them, the cache is passed by and the full Translator translates. The graph
needs only three of tensorflow-text's op libraries, not its Python API
(`register_text_ops`). The rest comes in only where the cache misses.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import re
import shutil
from dataclasses import astuple
from pathlib import Path

from translator import __version__
from translator.config import SearchConfig
from translator.errors import TranslatorError
from translator.model.folder import CONFIG, LENGTH_LIMIT, SOURCE_TOKENIZER, TARGET_TOKENIZER, WEIGHTS, RunDir
from translator.decoding.translation import Translation, chosen_surrogates, translate_lines, translations

CACHE_ENV = "TRANSLATOR_CACHE"
MODEL_FILES = (CONFIG, SOURCE_TOKENIZER, TARGET_TOKENIZER, WEIGHTS, LENGTH_LIMIT)
# tensorflow-text's op libraries holding the text ops a translate graph runs (NormalizeUTF8,
# RegexSplitWithOffsets, FastWordpieceTokenizeWithOffsets; its detokenizer is core TensorFlow's ops)
TEXT_OP_LIBRARIES = ("_normalize_ops", "_regex_split_ops", "_fast_wordpiece_tokenizer")
KEPT_ENTRIES = 8  # graphs the cache keeps, the most recently used (the default model's: 47 MB each)
ENTRY_NAME = re.compile(r"[^.].*-[0-9a-f]{20}")  # not a hidden one: one being written (files.atomic_path)


def cache_root() -> Path | None:
    """The cache folder, or None when $TRANSLATOR_CACHE is "off"."""
    configured = os.environ.get(CACHE_ENV, "")
    if configured.lower() == "off":
        return None
    return Path(configured) if configured else Path.home() / ".cache" / "translator"


def cache_entry(run_dir: RunDir, search: SearchConfig, policy: str = "float32") -> Path | None:
    """Where the graph of this model folder and search setting, traced under the dtype policy `policy`, is (or
    would be) cached."""
    root = cache_root()
    if root is None:
        return None
    digest = model_digest(run_dir, f"{__version__} {astuple(search)} {policy}".encode() + code_digest())
    return root / f"{run_dir.path.resolve().name}-{digest.hexdigest()[:20]}"


def model_digest(run_dir: RunDir, setting: bytes, names: tuple = MODEL_FILES):
    """A sha256 of `setting` and the model files `names` (by default every one a translate graph depends on)."""
    digest = hashlib.sha256(setting)
    for name in names:
        path = run_dir / name
        digest.update(name.encode() + (path.read_bytes() if path.exists() else b"-"))
    return digest


@functools.cache
def code_digest() -> bytes:
    """A digest of this package's own source: a graph traced by other code (a fix to the search, say) is stale
    even where the version number did not move. A few milliseconds."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.digest()


class CachedTranslator:
    """A saved graph behind the Translator's `translate` (its `signatures`: load_signatures'), for the one search
    setting it was traced with (the best hypothesis only); `search_setting` and `translate` as the Translator's.
    `surrogates` (of names, numbers: see translate_lines) serve every line it translates."""

    def __init__(self, signatures: dict, max_length: int, search: SearchConfig, surrogates: tuple = ()):
        self._search, self._count = signatures["translate"], signatures["token_counts"]
        self.max_length, self.search = max_length, search
        self.surrogates = surrogates

    def search_setting(self, *given) -> SearchConfig:
        return self.search

    def translate(self, sentences: list[str], search: SearchConfig) -> list[Translation]:
        if search != self.search:
            raise ValueError(f"this graph searches with {self.search}, not {search}")

        def search_batch(texts):
            out = self._search(sentences=texts)
            return translations(out["translation"][:, None], out["score"][:, None], out["truncated"])

        return translate_lines(sentences, search_batch, self.token_count, self.max_length, self.surrogates)

    def token_count(self, text: str) -> int:
        return int(self._count(sentences=[text])["tokens"][0])


def load_signatures(folder: Path, optimize: bool = True) -> dict:
    """The SavedModel's signatures as functions of numpy arrays, run in a TensorFlow session of their own.

    TensorFlow's own loader (tf.saved_model.load) rebuilds every function of the graph as a Python graph and
    imports 450 more modules: `translate "Hola."` with the default model peaked at 602 MB through it, 587 MB
    through the session, which hands the functions to the C++ runtime as they are. `optimize`: False turns
    TensorFlow's graph optimizer (grappler), which runs on the first call, off: over a handful of sentences it
    costs more than it saves (measured: the first translation 0.7 s sooner without it, and translating 600
    sentences 5 % slower)."""
    from tensorflow.python.saved_model import loader_impl, tag_constants  # tf.compat.v1.saved_model.load

    session = graph_session(optimize)
    loaded = loader_impl.SavedModelLoader(str(folder)).load(session, [tag_constants.SERVING])
    return signature_functions(session, loaded)


def graph_session(optimize: bool):
    """A TensorFlow session on a graph of its own, with grappler on or off (see load_signatures). The text ops
    the graphs run are registered first."""
    # tf.compat.v1.ConfigProto, tf.compat.v1.Session, tf.Graph
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.client import session as session_lib
    from tensorflow.python.framework import ops

    register_text_ops()
    options = config_pb2.ConfigProto()
    options.graph_options.rewrite_options.disable_meta_optimizer = not optimize
    return session_lib.Session(graph=ops.Graph(), config=options)


def signature_functions(session, meta_graph) -> dict:
    """Each signature of `meta_graph` (loaded into `session`) as a function of numpy arrays."""
    return {name: functools.partial(run_signature, session, signature)
            for name, signature in meta_graph.signature_def.items()}


def run_signature(session, signature, **inputs) -> dict:
    feeds = {signature.inputs[name].name: value for name, value in inputs.items()}
    return session.run({name: tensor.name for name, tensor in signature.outputs.items()}, feeds)


@functools.cache
def register_text_ops() -> None:
    """Register the text ops a translate graph needs without importing tensorflow_text: its Python API loads
    every one of its ~30 op libraries (116 MB resident, 0.16 s), these three cost 15 MB. Importing
    tensorflow_text afterwards (the full load) loads them again harmlessly."""
    from tensorflow.python.framework import load_library  # tf.load_op_library

    package = importlib.util.find_spec("tensorflow_text").submodule_search_locations[0]
    for name in TEXT_OP_LIBRARIES:
        load_library.load_op_library(os.path.join(package, "python", "ops", f"{name}.so"))


def cached_translator(run_dir: RunDir, search: SearchConfig, max_length: int, optimize: bool = True,
                      policy: str = "float32") -> CachedTranslator | None:
    """The cached graph for this model, setting and dtype policy, or None where there is none (or it cannot be
    read). `optimize`: False for a few sentences, see CachedTranslator."""
    entry = cache_entry(run_dir, search, policy)
    if entry is None or not entry.is_dir():
        return None
    try:
        surrogates = chosen_surrogates(search, run_dir.load_name_surrogates(), run_dir.load_number_surrogates())
        translator = CachedTranslator(load_signatures(entry, optimize), max_length, search, surrogates)
    except Exception:  # noqa: BLE001 - whatever a damaged entry raises, the full path translates and rebuilds it
        return None
    with contextlib.suppress(OSError):  # a read-only cache
        os.utime(entry)  # used now: `prune` keeps the latest used
    return translator


def save_to_cache(translator, run_dir: RunDir, search: SearchConfig) -> None:
    """Export the Translator's graph for this setting into the cache; a cache that cannot be written is skipped."""
    import tensorflow as tf

    from translator.decoding.export import export_saved_model

    entry = cache_entry(run_dir, search, translator.model.dtype_policy.name)
    if entry is None:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        if entry.exists():  # a damaged entry
            shutil.rmtree(entry)
        export_saved_model(translator, entry, search)
        prune(entry.parent)
    except (OSError, TranslatorError, tf.errors.OpError):  # unwritable, or another process writing it at once
        return


def prune(root: Path, keep: int = KEPT_ENTRIES) -> None:
    """Remove all but the `keep` most recently used entries: a retrained model, another search setting or a new
    version of this code makes a new entry and leaves the old one unused. Only folders named and made as entries
    are touched, whatever else $TRANSLATOR_CACHE holds."""
    found = [p for p in root.iterdir() if ENTRY_NAME.fullmatch(p.name) and (p / "saved_model.pb").is_file()]
    for stale in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)[keep:]:
        shutil.rmtree(stale, ignore_errors=True)
