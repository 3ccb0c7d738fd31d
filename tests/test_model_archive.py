"""`package`: a model folder as one .zip to hand over, which --model-dir takes as it takes the folder."""

import zipfile

import h5py

from conftest import run_cli


def test_a_packaged_model_translates_as_its_folder_and_leaves_training_behind(toy_model, tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSLATOR_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "toy.zip"
    packed = run_cli("package", "--model-dir", toy_model, "--out", archive)
    assert packed.returncode == 0, packed.stderr
    names = zipfile.ZipFile(archive).namelist()
    assert "config.json" in names and not [n for n in names if n.startswith(("checkpoint/", "logs/"))]
    assert (toy_model / "checkpoint").is_dir()  # the folder itself is left as it was
    with zipfile.ZipFile(archive) as members:
        members.extract("model.weights.h5", tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        dtypes = set()
        weights.visititems(lambda _, item: dtypes.add(item.dtype.name) if isinstance(item, h5py.Dataset) else None)
    assert "float16" in dtypes and "float32" not in dtypes
    sentences = ["Estoy aquí.", "Tengo hambre."]
    from_folder = run_cli("translate", *sentences, "--model-dir", toy_model, "--greedy")
    from_archive = run_cli("translate", *sentences, "--model-dir", archive, "--greedy")
    assert from_archive.returncode == 0, from_archive.stderr
    assert from_archive.stdout == from_folder.stdout


def test_a_damaged_archive_or_a_wrong_name_is_one_line(toy_model, tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSLATOR_CACHE", str(tmp_path / "cache"))
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(b"PK\x03\x04 not really")
    result = run_cli("translate", "Hola.", "--model-dir", damaged)
    assert result.returncode == 2 and "damaged.zip" in result.stderr and "Traceback" not in result.stderr
    wrong = run_cli("package", "--model-dir", toy_model, "--out", tmp_path / "model.tar")
    assert wrong.returncode == 2 and ".zip" in wrong.stderr and not (tmp_path / "model.tar").exists()
