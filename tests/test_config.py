"""The options, declared once: bounds named by field, the command line generated from the fields, config files."""

import json
from dataclasses import fields

import pytest

from translator.config import (CorpusFormat, ModelConfig, RunConfig, SearchConfig, TextConfig, TrainingConfig,
                               changed_options, read_option_file)
from translator.errors import ModelDirError, OptionError
from translator.model.folder import CONFIG, RunDir
from translator.cli.options import as_flags, choices_of


@pytest.mark.parametrize("make, field_name", [
    (lambda: TrainingConfig(batch_size=0), "batch_size"),
    (lambda: TrainingConfig(label_smoothing=1.0), "label_smoothing"),
    (lambda: TrainingConfig(learning_rate=0.0), "learning_rate"),
    (lambda: TrainingConfig(teacher_forcing="sometimes"), "teacher_forcing"),
    (lambda: ModelConfig(units=0), "units"),
    (lambda: ModelConfig(dropout=1.0), "dropout"),
    (lambda: TextConfig(vocab_size=4), "vocab_size"),
    (lambda: SearchConfig(beam_size=2, n_best=3), "n_best"),
    (lambda: CorpusFormat(source_column="es"), "source_column"),
])
def test_a_value_out_of_bounds_is_refused_naming_its_field(make, field_name):
    with pytest.raises(OptionError, match=f"`{field_name}`"):
        make()


def test_values_on_the_bounds_are_accepted():
    TrainingConfig(label_smoothing=0.0, clip_norm=0.0, max_nan_recoveries=0)
    ModelConfig(dropout=0.0, readout=0)
    TextConfig(vocab_size=5)


def test_field_names_become_the_flags_a_user_types():
    assert as_flags("`units` 512 (saved: 16)") == "--units 512 (saved: 16)"
    assert as_flags("`kind`: unknown 'bpe'") == "--tokenizer: unknown 'bpe'"  # a declared flag
    assert as_flags("use `resume` or `model_dir`") == "use --resume or --model-dir"  # not a config field
    assert as_flags("units without quotes stay") == "units without quotes stay"


def test_every_config_field_is_an_option_of_train_and_choices_come_from_the_registries():
    from cli import cli

    options = {p.name: p for p in cli.commands["train"].params}
    for part in (CorpusFormat, TextConfig, ModelConfig, TrainingConfig):
        for f in fields(part):
            assert f.name in options, f.name
            assert options[f.name].default == f.default, f.name
    assert choices_of(ModelConfig, "decoder") == ("init", "context", "feedback", "attention")
    assert choices_of(ModelConfig, "cell") == ("rnn", "lstm", "gru")
    for part in (TextConfig, ModelConfig):  # a default passes the CLI unchecked (no registry import): registered
        for f in fields(part):
            if isinstance(f.metadata["choices"], str):
                assert f.default in choices_of(part, f.name), f.name
    assert {p.name for p in cli.commands["compare"].params} >= {"units", "vocab_size", "epochs"}
    assert not {"decoder", "cell"} & {p.name for p in cli.commands["compare"].params}


def test_from_options_sets_both_text_sides_and_keeps_defaults():
    config = RunConfig.from_options({"kind": "word", "units": 32, "epochs": 2, "reverse": True, "unrelated": 1})
    assert config.source_text == config.target_text == TextConfig(kind="word")
    assert config.model == ModelConfig(units=32)
    assert config.training == TrainingConfig(epochs=2) and config.data == CorpusFormat(reverse=True)


def test_changed_options_names_only_the_requested_ones_that_differ():
    saved, given = RunConfig(), RunConfig.from_options({"units": 512, "epochs": 3})
    assert changed_options(saved, given, {"units", "epochs", "layers"}) == [
        "`epochs` 3 (saved: 10)", "`units` 512 (saved: 256)"]
    assert changed_options(saved, saved, {"units"}) == []


def test_config_json_round_trips_and_a_damaged_one_names_the_file(tmp_path):
    config = RunConfig.from_options({"decoder": "feedback", "cell": "lstm", "max_steps": 7, "lowercase": True})
    RunDir(tmp_path).save_config(config)
    assert RunDir(tmp_path).load_config() == config
    saved = json.loads((tmp_path / CONFIG).read_text())
    saved["model"]["units"] = -1
    (tmp_path / CONFIG).write_text(json.dumps(saved))
    with pytest.raises(ModelDirError, match=f"{CONFIG}: damaged config"):
        RunDir(tmp_path).load_config()


def test_option_files_accept_dashes_and_refuse_non_mappings(tmp_path):
    (tmp_path / "a.yaml").write_text("max-length: 20\nunits: 64\n")
    assert read_option_file(tmp_path / "a.yaml") == {"max_length": 20, "units": 64}
    (tmp_path / "b.yaml").write_text("- units\n")
    with pytest.raises(OptionError, match="mapping"):
        read_option_file(tmp_path / "b.yaml")
