"""Name surrogates: rarely seen names are translated as well-known ones and put back."""

import json
import shutil

import pandas as pd
import pytest

from tests.conftest import run_cli, translate_every_way
from translator.errors import ModelDirError
from translator.model.folder import RunDir
from translator.entities.names import MIN_SEEN, NameSurrogates, Replacement, restore
from translator.decoding.translation import Translation, translate_lines


def corpus_pairs() -> pd.DataFrame:
    """Spanish sources: Tom and Boston in many pairs, Mary in some, Ana written as a name twice only."""
    pairs = [("Tom está aquí.", "Tom is here."), ("Vi a Tom en Boston.", "I saw Tom in Boston."),
             ("Ayer llovió.", "It rained yesterday."), ("Llegó ayer.", "He came yesterday."),
             ("Mary es alta.", "Mary is tall."), ("Hablé con Mary.", "I talked to Mary."),
             ("Vi a Ana.", "I saw Ana."), ("Vino con Ana.", "She came with Ana."), ("Yo vi a Tom.", "I saw Tom."),
             ("Vivo en Londres.", "I live in London."), ("Fui a Londres.", "I went to London.")]
    pairs += [("Vive en Boston con Tom.", "He lives in Boston with Tom.")] * 10
    pairs += [("Mary conoce a Mary.", "Mary knows Mary.")] * 3
    return pd.DataFrame(pairs, columns=["source", "target"])


@pytest.fixture(scope="module")
def surrogates() -> NameSurrogates:
    return NameSurrogates.learn(corpus_pairs())


def test_learns_names_with_counts_and_the_names_both_sides_hold_most_as_surrogates(surrogates):
    assert surrogates.names["Tom"] == 12 and surrogates.names["Boston"] == 11 and surrogates.names["Ana"] == 2
    assert "Ayer" not in surrogates.names and "ayer" in surrogates.lower_case  # a sentence's start, not a name
    assert surrogates.surrogates == ("Tom", "Boston", "Mary", "Ana")  # by the pairs holding them on both sides


def test_an_unseen_or_rare_name_is_masked_and_a_frequent_one_or_an_ordinary_word_is_not(surrogates):
    first = surrogates.surrogates[0]
    assert surrogates.mask("Nerys estaba triste.") == (f"{first} estaba triste.", (Replacement(first, "Nerys"),))
    assert surrogates.names["Ana"] < MIN_SEEN
    assert surrogates.mask("Vi a Ana.")[1] == (Replacement(first, "Ana"),)
    assert surrogates.mask("Tom vive en Boston.") == ("Tom vive en Boston.", ())
    assert surrogates.mask("Ayer llovió.") == ("Ayer llovió.", ())  # "ayer" is an ordinary word


def test_a_rare_name_that_its_targets_translated_is_left_to_the_model(surrogates):
    assert surrogates.names["Londres"] == 2 and surrogates.held.get("Londres", 0) == 0  # never copied: "London"
    assert surrogates.mask("Tom está en Londres.") == ("Tom está en Londres.", ())


def test_a_run_of_names_takes_one_surrogate_and_one_the_sentence_holds_is_skipped(surrogates):
    masked, replacements = surrogates.mask("Tom conoce a Antonio Guzmán Blanco y a Oksana.")
    assert [r.original for r in replacements] == ["Antonio Guzmán Blanco", "Oksana"]
    assert "Tom" not in [r.surrogate for r in replacements]  # already in the sentence
    assert masked == f"Tom conoce a {replacements[0].surrogate} y a {replacements[1].surrogate}."


def test_restore_puts_the_names_back_wherever_the_surrogate_stands_as_a_word(surrogates):
    replacements = (Replacement("Tom", "Nerys"), Replacement("Mary", "Antonio Guzmán"))
    assert restore("Tom's dog saw Mary and Tomas.", replacements) == \
        "Nerys's dog saw Antonio Guzmán and Tomas."


def test_no_surrogates_leaves_the_text_alone():
    empty = NameSurrogates.learn(pd.DataFrame({"source": ["Estoy aquí."], "target": ["I am here."]}))
    assert empty.surrogates == () and empty.mask("Nerys estaba triste.") == ("Nerys estaba triste.", ())


def test_round_trips_through_json(surrogates):
    assert NameSurrogates.from_json(json.loads(json.dumps(surrogates.to_json()))) == surrogates


def test_lines_are_searched_masked_and_come_back_with_their_names(surrogates):
    seen = []

    def echo_search(texts):  # a "model" that copies its input, and names its n-best after it
        seen.extend(texts)
        return [Translation(t, -1.0, [(t, -1.0), (f"{t} Yes", -2.0)]) for t in texts]

    lines = ["Nerys estaba triste. Oksana no.", "", "Tom vive aquí."]
    results = translate_lines(lines, echo_search, lambda text: len(text.split()), 50, (surrogates,))
    assert [r.text for r in results] == lines
    assert not any("Nerys" in text or "Oksana" in text for text in seen)
    assert translate_lines(["Vi a Nerys."], echo_search, lambda text: 3, 50)[0].text == "Vi a Nerys."  # off
    single = translate_lines(["Vi a Nerys."], echo_search, lambda text: 3, 50, (surrogates,))[0]
    assert single.alternatives[1][0] == "Vi a Nerys. Yes"  # restored in every alternative


@pytest.mark.slow
def test_training_stores_the_names_and_a_damaged_file_is_named(toy_model, tmp_path):
    stored = RunDir(toy_model).load_name_surrogates()
    assert isinstance(stored, NameSurrogates) and "aquí" in stored.lower_case
    folder = tmp_path / "model"
    shutil.copytree(toy_model, folder)
    (folder / "names.json").write_text('{"names": 3}')
    with pytest.raises(ModelDirError, match="names.json: damaged name list"):
        RunDir(folder).load_name_surrogates()


@pytest.mark.slow
def test_data_names_gives_an_older_folder_its_names_and_never_overwrites_unasked(toy_model, tmp_path, write):
    folder = tmp_path / "model"
    shutil.copytree(toy_model, folder)
    (folder / "names.json").unlink()
    corpus = write("corpus.tsv", "".join(f"{t}\t{s}\n" for s, t in corpus_pairs().itertuples(index=False)))
    done = run_cli("data", "names", corpus, "--model-dir", folder)
    assert done.returncode == 0, done.stderr
    assert RunDir(folder).load_name_surrogates() == NameSurrogates.learn(corpus_pairs())  # read as --reverse
    again = run_cli("data", "names", corpus, "--model-dir", folder)
    assert again.returncode == 2 and again.stderr.strip().endswith("use --force to replace them")
    assert "Traceback" not in again.stderr


@pytest.mark.slow
def test_the_default_model_keeps_an_unseen_name_by_every_path(tmp_path, monkeypatch):
    sentence = "Oksana nunca dijo nada."  # a probe sentence the model alone gave as "Osks he said nothing."
    first, cached, carried = translate_every_way(tmp_path, monkeypatch, sentence)
    assert first.stdout == cached.stdout == carried.stdout and first.stdout.startswith("Oksana ")
    assert "Tom" not in first.stdout
