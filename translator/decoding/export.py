"""A TensorFlow SavedModel with a `translate` signature: strings in, strings out, beam search inside.

Loading it needs TensorFlow and tensorflow-text (for its text ops) but not
this package:

    import tensorflow as tf, tensorflow_text  # noqa: F401  (registers the ops)
    translate = tf.saved_model.load(PATH).signatures["translate"]
    translate(tf.constant(["¿Dónde está la biblioteca?"]))["translation"]

A second signature, `token_counts`, gives each sentence's source token count (what the model's maximum length
counts; the fast start uses it to cut over-long lines as the Translator does).
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from translator.errors import OptionError
from translator.files import atomic_path
from translator.config import SearchConfig
from translator.decoding.inference import Translator


def export_saved_model(translator: Translator, out: Path, search: SearchConfig) -> Path:
    """Write the SavedModel to `out` (beside, then renamed into place: `files.atomic_path`)."""
    out = Path(out)
    if out.exists():
        raise OptionError(f"{out} already exists; remove it or choose another --out")
    search_fn = translator.compiled(search)

    def translate(sentences):
        texts, scores, truncated = search_fn(sentences)
        return {"translation": texts[:, 0], "score": scores[:, 0], "truncated": truncated}

    archive = keras.export.ExportArchive()
    # The model is not tracked: the endpoints' own variables are saved anyway, and a tracked Keras model's
    # variables were saved a second time beside them (Keras' wrappers and the tf.Variables the graph captures),
    # which doubled the folder and the memory of whoever loads it.
    archive.track(translator.source_tokenizer)
    archive.track(translator.target_tokenizer)
    archive.add_endpoint("translate", translate, input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    archive.add_endpoint("token_counts", lambda sentences: {"tokens": translator.source_tokenizer.tokenize(
        sentences).row_lengths()}, input_signature=[tf.TensorSpec([None], tf.string, name="sentences")])
    with atomic_path(out) as partial:
        archive.write_out(str(partial), verbose=False)
    return out
