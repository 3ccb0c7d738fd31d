"""The Translator: a model folder in, translations out, independent of batching."""

import pytest

from conftest import TOY
from translator.data.corpus import CorpusFormat, read_corpus
from translator.errors import ModelDirError
from translator.config import SearchConfig
from translator.decoding.inference import Translator



@pytest.fixture(scope="module")
def translator(toy_model):
    return Translator.load(toy_model)


@pytest.fixture(scope="module")
def toy_pairs():
    return read_corpus(TOY, CorpusFormat(reverse=True)).pairs


def test_memorised_corpus_comes_back_with_greedy_and_beam(translator, toy_pairs):
    for search in (SearchConfig(greedy=True), SearchConfig(beam_size=5)):
        outputs = [t.text for t in translator.translate(list(toy_pairs.source), search)]
        assert outputs == list(toy_pairs.target)


@pytest.mark.parametrize("search", [SearchConfig(greedy=True), SearchConfig(beam_size=5, n_best=3)])
def test_output_does_not_depend_on_the_batch(translator, toy_pairs, search):
    """Same texts; scores equal up to float rounding, which matrix kernels order by batch shape (~1e-7)."""
    sentences = (list(toy_pairs.source) + ["¿Dónde está el perro grande?", "Hola", "gato"]) * 2
    results = {}
    for size in (1, 7, 64):
        results[size] = [
            t for start in range(0, len(sentences), size)
            for t in translator.translate(sentences[start : start + size], search)
        ]
    def texts(size):
        return [[text for text, _ in t.alternatives] for t in results[size]]

    def scores(size):
        return [score for t in results[size] for _, score in t.alternatives]

    for size in (7, 64):
        assert texts(size) == texts(1)
        assert scores(size) == pytest.approx(scores(1), abs=1e-5)


def test_one_graph_serves_every_length_penalty(toy_model, toy_pairs):
    """The penalty is an input of the traced search: a second penalty traces nothing new and gives what a
    translator that only ever saw that penalty gives."""
    sentences = list(toy_pairs.source[:20]) + ["¿Dónde está el perro grande?"]
    shared = Translator.load(toy_model)
    shared.translate(sentences, SearchConfig(beam_size=3, length_penalty=0.0))
    traced = len(shared._compiled)
    penalised = shared.translate(sentences, SearchConfig(beam_size=3, length_penalty=1.5))
    assert len(shared._compiled) == traced
    alone = Translator.load(toy_model).translate(sentences, SearchConfig(beam_size=3, length_penalty=1.5))
    assert [t.alternatives for t in penalised] == [t.alternatives for t in alone]
    unpenalised = shared.translate(sentences, SearchConfig(beam_size=3, length_penalty=0.0))
    gains = [a.score - b.score for a, b in zip(penalised, unpenalised)]  # log-probabilities / ((5 + L) / 6) ** 1.5
    assert min(gains) >= 0 and gains[-1] > 0  # the unseen sentence's log-probability is surely below 0


def test_empty_sentence_gives_empty_output(translator):
    outputs = translator.translate(["", "Estoy aquí.", "   "])
    assert [o.text for o in outputs] == ["", "I am here.", ""]


def test_unseen_characters_and_long_input_still_translate(translator):
    outputs = translator.translate(["日本 ☃ Estoy aquí.", "gato " * 200])
    assert all(isinstance(o.text, str) for o in outputs)


def test_n_best_is_ranked(translator):
    result = translator.translate(["Estoy cansado."], SearchConfig(beam_size=4, n_best=4))[0]
    scores = [s for _, s in result.alternatives]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)
    assert result.text == "I am tired."


def test_attention_weights_are_those_of_the_searchs_own_steps(translator):
    """Replay greedy decoding one decoder step at a time: the tokens and the alpha_t of each step must be
    what translate_with_attention reports (not a re-tokenized text's teacher-forced weights)."""
    import numpy as np
    import tensorflow as tf

    from translator.data.text import GLUE, START_ID

    sentence = "¿Dónde está el perro grande y el gato?"  # unseen: the output is not a memorised pair
    result, (source_tokens, output_tokens, weights) = translator.translate_with_attention(
        [sentence], SearchConfig(greedy=True))[0]
    source, _, _ = translator.encode_source(tf.constant([sentence]))
    prepared = translator.model.prepare_decoding(source)
    state, token, alphas, ids = translator.model.decoder.initial_state(prepared), tf.constant([START_ID]), [], []
    for _ in output_tokens:
        logits, state, alpha = translator.model.decoder.step(token, state, prepared)
        token = tf.argmax(logits, axis=-1, output_type=tf.int32)
        alphas.append(alpha[0].numpy())
        ids.append(int(token[0]))
    assert output_tokens == [translator.target_tokenizer.vocab[i].replace(GLUE, "") for i in ids]
    assert len(source_tokens) == weights.shape[1] == source.shape[1]
    np.testing.assert_allclose(weights, np.stack(alphas), atol=1e-5)
    assert result.text == translator.translate([sentence], SearchConfig(greedy=True))[0].text


def test_attention_of_a_beam_belongs_to_its_best_hypothesis(translator, toy_pairs):
    sentences = list(toy_pairs.source[:5]) + ["", "¿Dónde está el perro grande?"]
    search = SearchConfig(beam_size=4, n_best=2)
    plain = translator.translate(sentences, search)
    for (result, alignment), alone in zip(translator.translate_with_attention(sentences, search), plain):
        assert [t for t, _ in result.alternatives] == [t for t, _ in alone.alternatives]
        assert [s for _, s in result.alternatives] == pytest.approx([s for _, s in alone.alternatives], abs=1e-5)
        if not alone.text:
            assert alignment is None
            continue
        _, output_tokens, weights = alignment
        assert output_tokens[-1] == "[END]" and weights.shape[0] == len(output_tokens)
        assert weights.sum(axis=1) == pytest.approx(1.0, abs=1e-4)


def test_missing_and_damaged_model_folders(tmp_path, toy_model):
    with pytest.raises(ModelDirError, match="no such model folder"):
        Translator.load(tmp_path / "absent")
    with pytest.raises(ModelDirError, match="missing config.json"):
        Translator.load(tmp_path)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for f in toy_model.iterdir():
        if f.is_file():
            (damaged / f.name).write_bytes(f.read_bytes())
    (damaged / "model.weights.h5").write_bytes(b"not an h5 file")
    with pytest.raises(ModelDirError, match="damaged weights"):
        Translator.load(damaged)
    (damaged / "config.json").write_text("{")
    with pytest.raises(ModelDirError, match="damaged config"):
        Translator.load(damaged)


def test_shrunk_weights_are_smaller_and_translate_the_same(toy_model, tmp_path, toy_pairs):
    import shutil

    from translator.model.weights import shrink_weights

    copy = tmp_path / "shrunk"
    shutil.copytree(toy_model, copy)
    before, after = shrink_weights(copy)
    assert after < 0.6 * before
    sentences = list(toy_pairs.source)
    original = [t.text for t in Translator.load(toy_model).translate(sentences, SearchConfig(greedy=True))]
    assert [t.text for t in Translator.load(copy).translate(sentences, SearchConfig(greedy=True))] == original


def test_a_source_over_the_maximum_length_is_flagged_as_cut(toy_model):
    translator = Translator.load(toy_model)
    translator.max_length = 4  # before the first call: the compiled search reads it when traced
    short, long = translator.translate(["Hola", "¿Dónde está el perro grande y el gato pequeño?"], SearchConfig(greedy=True))
    assert not short.truncated and long.truncated
    assert long.text  # still translated, from its first 4 tokens


def test_a_line_of_several_sentences_is_translated_sentence_by_sentence(translator, toy_pairs):
    first, second = toy_pairs.source.iloc[0], toy_pairs.source.iloc[1]
    search = SearchConfig(beam_size=3, n_best=2)
    alone = translator.translate([first, second], search)
    line, = translator.translate([f"{first}  {second}"], search)
    assert line.text == f"{alone[0].text}  {alone[1].text}"
    assert line.score == pytest.approx(alone[0].score + alone[1].score, abs=1e-5)
    assert line.alternatives == [(line.text, line.score)]


def test_token_counts_are_the_tokenizers_and_translate_all_keeps_the_input_order(translator, toy_pairs):
    from translator.evaluation.evaluate import translate_all

    sentences = list(toy_pairs.source)[::-1] + ["¿Dónde está el perro grande?", "Hola"]
    expected = [len(translator.source_tokenizer.tokenize([s])[0]) for s in sentences]
    assert translator.token_counts(sentences) == expected and translator.token_counts([]) == []
    assert translator.token_count(sentences[-2]) == expected[-2]
    hypotheses, _ = translate_all(translator, sentences, SearchConfig(greedy=True))
    assert hypotheses == [t.text for t in translator.translate(sentences, SearchConfig(greedy=True))]


@pytest.mark.parametrize("search", [SearchConfig(greedy=True), SearchConfig(beam_size=5, n_best=3)])
def test_an_xla_compiled_search_of_a_few_sentences_translates_as_the_graph_does(toy_model, toy_pairs, search):
    """xla_max_batch=2: one or two sentences search XLA-compiled, three or more in the graph; both the same."""
    xla = Translator.load(toy_model, xla_max_batch=2)
    plain = Translator.load(toy_model)
    sentences = list(toy_pairs.source)[:3] + ["¿Dónde está el perro grande?"]
    for batch in ([sentences[0]], sentences[1:3], sentences):
        compiled, graph = xla.translate(batch, search), plain.translate(batch, search)
        assert [t.alternatives[i][0] for t in compiled for i in range(search.n_best)] == \
               [t.alternatives[i][0] for t in graph for i in range(search.n_best)]
        assert [s for t in compiled for _, s in t.alternatives] == \
               pytest.approx([s for t in graph for _, s in t.alternatives], abs=1e-5)
    assert {xla_graph for _, _, xla_graph in xla._compiled} == {True, False}  # the 4-sentence batch: the graph's


def test_bfloat16_searches_of_one_setting_share_no_xla_function(toy_model):
    """Under bfloat16 an XLA-compiled search captures the weights its calling graph cast; the search with
    attention weights, a second graph of the same setting, once reused the first graph's and failed."""
    translator = Translator.load(toy_model, xla_max_batch=1, precision_name="bfloat16")
    search = SearchConfig(beam_size=3)
    plain = translator.translate(["Hola."], search)[0]
    with_weights, (_, output_tokens, weights) = translator.translate_with_attention(["Hola."], search)[0]
    assert with_weights.text == plain.text and weights.shape[0] == len(output_tokens)


def test_a_translator_loaded_in_bfloat16_computes_in_it_and_translates_the_memorised_corpus(toy_model, toy_pairs):
    translator = Translator.load(toy_model, precision_name="bfloat16")
    assert translator.model.dtype_policy.name == "mixed_bfloat16"
    outputs = [t.text for t in translator.translate(list(toy_pairs.source), SearchConfig(beam_size=3))]
    assert outputs == list(toy_pairs.target)


@pytest.mark.slow
@pytest.mark.parametrize("decoder,cell,layers", [("init", "lstm", 2), ("context", "rnn", 1), ("feedback", "gru", 1),
                                                 ("attention", "lstm", 1)])
def test_every_decoder_and_cell_searches_under_xla_as_in_the_graph(toy_model, toy_pairs, decoder, cell, layers):
    """Random weights (outputs of every length, not just the memorised ones): each kind of state and step compiles
    under XLA and finds what the graph search finds. The output layer's weights are scaled up, so that no two
    tokens tie within float rounding (which the two compilations order differently)."""
    from dataclasses import replace

    from translator.model.seq2seq import Seq2Seq

    loaded = Translator.load(toy_model)
    config = replace(loaded.config, model=replace(loaded.config.model, decoder=decoder, cell=cell, layers=layers,
                                                  readout=0))
    model = Seq2Seq(loaded.source_tokenizer.vocab_size, loaded.target_tokenizer.vocab_size,
                    config=vars(config.model), seed=3).build_with_dummy_batch()
    output = model.decoder.output_layer.from_state
    output.kernel.assign(output.kernel * 30.0)
    sentences = list(toy_pairs.source)[:2]
    for search in (SearchConfig(greedy=True), SearchConfig(beam_size=3, n_best=2)):
        results = {}
        for xla_max_batch in (0, 1):
            translator = Translator(model, config, loaded.source_tokenizer, loaded.target_tokenizer,
                                    xla_max_batch=xla_max_batch)
            results[xla_max_batch] = [translator.translate([s], search)[0] for s in sentences]
        compiled, graph = ([alternative for t in results[key] for alternative in t.alternatives] for key in (1, 0))
        assert [text for text, _ in compiled] == [text for text, _ in graph]
        assert [score for _, score in compiled] == pytest.approx([score for _, score in graph], abs=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("decoder,cell", [("init", "lstm"), ("context", "rnn"), ("feedback", "gru"),
                                          ("attention", "gru"), ("attention", "lstm")])
def test_every_decoder_searches_under_bfloat16_in_the_graph_and_under_xla(toy_model, decoder, cell):
    """Random weights under mixed_bfloat16: greedy and beam search, in the graph and XLA-compiled, and the attention
    weights where the decoder has them, all from one Translator (its graphs share nothing they cannot share)."""
    from dataclasses import replace

    from translator.model import precision
    from translator.model.seq2seq import Seq2Seq

    loaded = Translator.load(toy_model)
    config = replace(loaded.config, model=replace(loaded.config.model, decoder=decoder, cell=cell, readout=0))
    with precision.dtype_policy("mixed_bfloat16"):
        model = Seq2Seq(loaded.source_tokenizer.vocab_size, loaded.target_tokenizer.vocab_size,
                        config=vars(config.model), seed=3).build_with_dummy_batch()
    translator = Translator(model, config, loaded.source_tokenizer, loaded.target_tokenizer, xla_max_batch=1)
    for search in (SearchConfig(greedy=True), SearchConfig(beam_size=3, n_best=2)):
        for sentences in (["Hola."], ["Hola.", "¿Dónde está el gato?"]):  # XLA, then the graph
            results = translator.translate(sentences, search)
            assert len(results) == len(sentences) and all(len(r.alternatives) == search.n_best for r in results)
        if translator.has_attention:
            _, (_, output_tokens, weights) = translator.translate_with_attention(["Hola."], search)[0]
            assert weights.shape[0] == len(output_tokens)
