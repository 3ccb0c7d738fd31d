"""Translator: a model folder loaded once; batches of sentences in, translations out.

Text -> ids -> encoder -> search -> ids -> text runs in one compiled
tf.function per search setting, so a batch costs one call from Python.
Its loops and branches are spelled tf.while_loop and tf.cond, so it is traced
without AutoGraph (`autograph=False`, as are the training step's): AutoGraph
rewrote the source of every function the search calls and then found nothing
to convert (the same ops), which was most of the tracing time.

A long-lived process (`serve`) may have its searches of a few sentences compiled by XLA as well
(`xla_max_batch`): a step of one sentence is a hundred and more small ops, whose scheduling costs more than their
arithmetic, and XLA fuses them; one sentence's beam search then takes about half the time. XLA needs every shape
fixed, so such a search keeps all its rows to the end (search.py's `steps`) and is compiled once per batch size
and source length (rounded up to SOURCE_BUCKET tokens), about a second each, on first use: not worth it for a
command that translates once and exits, nor for large batches, whose search gains more from dropping the
sentences that are done.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from translator.model import precision
from translator.config import RunConfig, SearchConfig
from translator.errors import ModelDirError
from translator.model.folder import RunDir
from translator.model.length_limit import LengthLimit
from translator.model.seq2seq import Seq2Seq
from translator.decoding.search import beam_search, coverage_penalty, greedy_search, tile_beams
from translator.data.text import END_ID, GLUE, PAD_ID, START_ID, Tokenizer
from translator.entities.case import Truecaser
from translator.entities.verbatim import Verbatim
from translator.decoding.translation import (Translation, chosen_surrogates, empty_translation, over_nonempty, translate_lines,
                                    translations)
from translator.decoding.whole_words import WholeWords

SOURCE_BUCKET = 8  # an XLA-compiled search compiles once per source length rounded up to a multiple of this


class Translator:
    def __init__(self, model: Seq2Seq, config: RunConfig, source_tokenizer: Tokenizer, target_tokenizer: Tokenizer,
                 model_dir: Path | None = None, xla_max_batch: int = 0):
        self.model, self.config, self.model_dir = model, config, model_dir
        # batches up to this size search XLA-compiled (see above); 0: none. Not on a GPU: there Keras runs the
        # encoder's GRU/LSTM on cuDNN's kernel (CudnnRNNV3), which XLA cannot compile ("tf2xla conversion failed")
        self.xla_max_batch = 0 if tf.config.list_logical_devices("GPU") else xla_max_batch
        self.source_tokenizer, self.target_tokenizer = source_tokenizer, target_tokenizer
        self.max_length = config.training.max_length
        self.length_limit = RunDir(model_dir).load_length_limit() if model_dir is not None else LengthLimit()
        self.name_surrogates = RunDir(model_dir).load_name_surrogates() if model_dir is not None else None
        self.number_surrogates = RunDir(model_dir).load_number_surrogates() if model_dir is not None else None
        self.truecaser = Truecaser.from_names(self.name_surrogates and self.name_surrogates.names)
        self.verbatim = Verbatim(self.name_surrogates.surrogates if self.name_surrogates else ())
        # where source ids are target ids, a search can hold a copied name or number to its source spelling
        self.whole_words = WholeWords(target_tokenizer.vocab) if config.model.shared_vocabulary else None
        self._compiled = {}
        self._tracing = threading.Lock()  # two decoding streams (streams.py) may ask for one graph at once

    @classmethod
    def load(cls, model_dir: str | Path, xla_max_batch: int = 0, precision_name: str = "float32") -> "Translator":
        """The model folder's Translator; `precision_name` (auto, float32, bfloat16, mixed_float16) is the dtype its
        layers compute in (precision.py: bfloat16 decodes about 1.2x faster on a CPU with BF16 instructions, same
        BLEU on the test split), the search's scores float32 under every one."""
        run_dir = RunDir(model_dir).require()
        config = run_dir.load_config()
        source, target = run_dir.load_tokenizers()
        if config.model.shared_vocabulary and source.vocab != target.vocab:
            raise ModelDirError(f"{run_dir}: damaged: a shared-vocabulary model whose two tokenizers differ")
        with precision.dtype_policy(precision.resolve(precision_name)):
            model = Seq2Seq(source.vocab_size, target.vocab_size, config=asdict(config.model)).build_with_dummy_batch()
        run_dir.load_weights(model)
        return cls(model, config, source, target, run_dir.path, xla_max_batch)

    # --- in-graph pieces ---------------------------------------------------------------
    def encode_source(self, texts):
        """Sentences [batch] -> (source ids [batch, S] with START/END, per-sentence length limits [batch],
        whether each sentence was cut to the model's maximum length [batch])."""
        ids = self.source_tokenizer.tokenize(texts)
        truncated = ids.row_lengths() > self.max_length
        ids = ids[:, : self.max_length]
        batch = ids.nrows()
        ids = tf.concat([tf.fill([batch, 1], START_ID), ids, tf.fill([batch, 1], END_ID)], axis=1)
        limits = tf.minimum(self.length_limit.limits(ids.row_lengths() - 2), self.max_length + 2)
        return ids.to_tensor(PAD_ID), limits, truncated

    def _search_ids(self, texts, search: SearchConfig, length_penalty=None, xla: bool = False):
        """(source ids [batch, S], output ids [batch, n, L] padded with END, scores [batch, n], truncated [batch]);
        `length_penalty` (a scalar tensor), where given, replaces the search's; `xla`: search XLA-compiled."""
        length_penalty = search.length_penalty if length_penalty is None else length_penalty
        source, max_lengths, truncated = self.encode_source(texts)
        search_source = self._xla_search if xla else self._search_source
        with precision.weights_cast_once(self.model):
            tokens, scores = search_source(source, max_lengths, search, length_penalty)
        return source, tokens, scores, truncated

    def _xla_search(self, source, max_lengths, search: SearchConfig, length_penalty):
        """`_search_source` compiled by XLA, over the source padded to a multiple of SOURCE_BUCKET tokens (padding is
        masked: the same output), its output ids cut after the longest hypothesis.

        Called only while a graph of `_traced` is traced, once per graph, and made anew each time: the function
        captures what the calling graph holds (under bfloat16, the weights cast once in it), which another graph
        cannot use (a search with attention weights after a plain one failed so, and `serve` never got ready)."""
        xla_search = tf.function(
            lambda source, limits, alpha: self._search_source(source, limits, search, alpha, self.max_length + 2),
            jit_compile=True, autograph=False)
        padded = tf.pad(source, [[0, 0], [0, -tf.shape(source)[1] % SOURCE_BUCKET]], constant_values=PAD_ID)
        tokens, scores = xla_search(padded, max_lengths, length_penalty)
        longest = tf.reduce_max(tf.reduce_sum(tf.cast(tf.not_equal(tokens, END_ID), tf.int32), axis=-1)) + 1
        return tokens[..., :longest], scores

    def _search_source(self, source, max_lengths, search: SearchConfig, length_penalty, steps: int | None = None):
        """(output ids [batch, n, L], scores [batch, n]) for source ids [batch, S]; `steps`: a static bound on the
        output length, for XLA (search.py)."""
        model = self.model
        prepared = model.prepare_decoding(source)
        words = self.whole_words if search.whole_words else None
        if search.greedy or search.beam_size == 1:
            tokens, scores = greedy_search(model.carrying_step_function(words),
                                           model.initial_state(prepared, whole_words=words, carrying=True),
                                           max_lengths, START_ID, END_ID, search.no_repeat_ngram_size, steps)
            return tokens[:, None], scores[:, None]
        coverage = search.coverage_penalty > 0 and self.has_attention
        start = model.initial_state(tile_beams(prepared, search.beam_size), coverage, words, carrying=True)
        return beam_search(model.carrying_step_function(words), start, max_lengths, START_ID, END_ID,
                           search.beam_size, length_penalty, search.n_best, search.no_repeat_ngram_size,
                           self._end_score(search, words), carrying=True, steps=steps)

    def _end_score(self, search: SearchConfig, words):
        """What a beam adds to a hypothesis's score when it ends (the coverage penalty, names and numbers left out),
        or None; it reads the search state (made with carrying=True)."""
        parts = []
        if search.coverage_penalty > 0 and self.has_attention:
            parts.append(lambda state: coverage_penalty(state["coverage"], search.coverage_penalty))
        if words is not None:
            parts.append(lambda state: words.end_score(state["words"], state["prepared"]["source_ids"]))
        return (lambda state: tf.add_n([part(state) for part in parts])) if parts else None

    def _detokenize(self, tokens):
        batch, n = tf.shape(tokens)[0], tf.shape(tokens)[1]
        return tf.reshape(self.target_tokenizer.detokenize(tf.reshape(tokens, [batch * n, -1])), [batch, n])

    def _search(self, texts, search: SearchConfig, length_penalty, xla: bool):
        _, tokens, scores, truncated = self._search_ids(texts, search, length_penalty, xla)
        return self._detokenize(tokens), scores, truncated

    def _search_with_attention(self, texts, search: SearchConfig, length_penalty, xla: bool):
        """The search, then the attention weights of its best hypothesis: a teacher-forced pass over the very
        token ids the search chose (the same inputs and states as its steps), never a re-tokenized text."""
        source, tokens, scores, truncated = self._search_ids(texts, search, length_penalty, xla)
        best = tokens[:, 0]
        target_in = tf.concat([tf.fill([tf.shape(best)[0], 1], START_ID), best[:, :-1]], axis=1)
        with precision.weights_cast_once(self.model):
            weights = self.model.decoder.attention_weights(target_in, self.model.prepare_decoding(source))
        return self._detokenize(tokens), scores, truncated, source, best, weights

    def compiled(self, search: SearchConfig, with_attention: bool = False):
        """The tf.function for one search setting:
        strings [batch] -> (texts [batch, n], scores [batch, n], truncated [batch]), and with_attention
        also (source ids [batch, S], best output ids [batch, L], weights [batch, L, S]).

        The length penalty is an input of the graph, not part of its key: choosing the search on dev over a
        grid of penalties traces each beam size once (tracing a beam search takes about half a second). A batch of
        up to `xla_max_batch` sentences runs a second graph, whose search is XLA-compiled: chosen here, by the
        batch's size, rather than by a tf.cond in one graph, which cost about 0.1 ms a call."""
        alpha = tf.constant(search.length_penalty, tf.float32)

        def run(texts):
            xla = texts.shape[0] is not None and texts.shape[0] <= self.xla_max_batch
            return self._traced(search, with_attention, xla)(texts, alpha)

        return run

    def _traced(self, search: SearchConfig, with_attention: bool, xla: bool):
        # neither the penalty nor the surrogates are in the graph
        line_level = {"length_penalty": 0.0, "name_surrogates": False, "number_surrogates": False}
        key = (replace(search, **line_level), with_attention, xla)
        with self._tracing:
            if key not in self._compiled:
                self._compiled[key] = self._trace(search, with_attention, xla)
        return self._compiled[key]

    def _trace(self, search: SearchConfig, with_attention: bool, xla: bool):
        run = self._search_with_attention if with_attention else self._search
        traced = tf.function(lambda texts, alpha: run(texts, search, alpha, xla), autograph=False,
                             input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.float32)])
        # called as the concrete function: a tf.function's call first matches its inputs to its traces,
        # about 0.2 ms of Python a call (a tenth of one short sentence's beam search)
        return traced.get_concrete_function()

    # --- the Python API --------------------------------------------------------------
    @functools.cached_property
    def default_search(self) -> SearchConfig:
        """The beam setting `compare` found best on dev (search.json in the folder, read once), else the default."""
        saved = None if self.model_dir is None else RunDir(self.model_dir).load_search()
        return saved or SearchConfig()

    def search_setting(self, **given) -> SearchConfig:
        """A search setting: the fields given by name (SearchConfig.with_given), the rest from `default_search`."""
        return self.default_search.with_given(**given)

    @property
    def has_attention(self) -> bool:
        return self.model.decoder.attends

    def translate_with_attention(self, sentences: list[str], search: SearchConfig = SearchConfig()):
        """[(Translation, (source tokens, output tokens, weights [output, source]) or None for an empty sentence)].
        Each sentence is searched as it stands (not cut into pieces, no name surrogates), so that the weights
        belong to the tokens shown."""
        if not self.has_attention:
            raise ModelDirError(f"this model's '{self.config.model.decoder}' decoder has no attention weights; "
                                "only 'attention' models do")

        def run(texts):
            texts, scores, truncated, source, best, weights = self.compiled(search, with_attention=True)(tf.constant(texts))
            alignments = [self._alignment(*row) for row in zip(source.numpy(), best.numpy(), weights.numpy())]
            return list(zip(translations(texts, scores, truncated), alignments))

        return over_nonempty(sentences, run, lambda: (empty_translation(), None))

    def _alignment(self, source_ids, output_ids, weights):
        """Token strings for one sentence's weights, cut to its real source length and to its first END."""
        source_length = int((source_ids != PAD_ID).sum())
        output_length = int(np.argmax(output_ids == END_ID)) + 1 if (output_ids == END_ID).any() else len(output_ids)
        source_tokens = [self.source_tokenizer.vocab[i].replace(GLUE, "") for i in source_ids[:source_length]]
        output_tokens = [self.target_tokenizer.vocab[i].replace(GLUE, "") for i in output_ids[:output_length]]
        return source_tokens, output_tokens, weights[:output_length, :source_length]

    def translate(self, sentences: list[str], search: SearchConfig = SearchConfig()) -> list[Translation]:
        """Translate a batch; an empty (or all-space) sentence gives an empty translation. A line of several
        sentences, or one over the maximum length with clauses, is translated piece by piece (`segments`) and
        joined; its alternatives are then the joined best only, its score the pieces' sum. With the setting's
        `name_surrogates` and the folder's names.json, rarely seen names are translated as well-known ones and put
        back (entities/names.py); with `number_surrogates` and numbers.json, so are numbers written with separators,
        put back as the target writes them (entities/numbers.py). A line in capitals or all in lower case is
        translated as if written normally, and given back in its case (entities/case.py); emoji, symbols and addresses
        are kept as they are, in place (entities/verbatim.py)."""
        surrogates = chosen_surrogates(search, self.name_surrogates, self.number_surrogates)
        return translate_lines(sentences, lambda texts: translations(*self.compiled(search)(tf.constant(texts))),
                               self.token_count, self.max_length, surrogates, self.truecaser, self.verbatim)

    def token_count(self, text: str) -> int:
        """Source tokens of one text (what the maximum length counts)."""
        return self.token_counts([text])[0]

    def token_counts(self, texts: list[str]) -> list[int]:
        """Source tokens of each text, in one compiled call (run eagerly, the tokenizer's ops took 9 ms a text, and
        a long line is counted once per clause: segments.fit_clauses)."""
        return self._token_counts(tf.constant(texts, tf.string)).numpy().tolist() if texts else []

    @functools.cached_property
    def _token_counts(self):
        return tf.function(lambda texts: self.source_tokenizer.tokenize(texts).row_lengths(), autograph=False,
                           input_signature=[tf.TensorSpec([None], tf.string)])
