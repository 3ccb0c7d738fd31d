"""Build names-numbers.tsv: test-split pairs whose names and numbers are swapped for ones never seen in training.

    python data/probes/make_probes.py [CORPORA]    (default: $TRANSLATOR_CORPORA, else ../shared/corpora)

A test pair (English<TAB>Spanish) qualifies when a name or a digit string
stands verbatim on both sides: a capitalised word written in lowercase at most
once per 100 capitalised uses in the training split (so "Tom", not "No"), or a
run of digits. Each
such name is replaced on both sides by a name from NAMES, each number by a
number of the same digit count (at least 3) that no training sentence holds,
both chosen at random (seed 11) among those absent from the training split's
words. One pair per unique Spanish sentence, at most 300, in test order.
Deterministic: the same corpus gives the same file.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

WORD = re.compile(r"\w+")
CAPITALISED = re.compile(r"\b[A-ZÁÉÍÓÚÑ][a-záéíóúñü]+\b")
NUMBER = re.compile(r"\b\d+\b")
NAMES = """Oksana Thandiwe Ravindra Siobhan Yusuf Kwame Ingrid Tadeusz Aiyana Hemi Mpho Leilani Bartholomew Zuzana
Anselmo Chidera Dagny Evander Fiorella Gunnhild Hamid Ilse Jovana Kenji Lorcan Malalai Nnamdi Orsolya Piet Quilla
Radomir Saoirse Tarquin Ulrike Vuong Wanjiru Xiadani Yevgenia Zbigniew Aurelio Benedikta Casimir Dorotea Eamon
Folasade Gwenllian Hyacinth Ignatius Jarrah Kalani Ludovica Mattias Nerys Obadiah Perpetua Rosalind Sigrun Teodoro
Umberto Valdemar Wilhelmina Ximena Yaroslav Zenobia Guzmán Ouagadougou Tegucigalpa Vladivostok Trondheim Timbuktu
Windhoek Ushuaia Reykjavik Kathmandu Samarkand""".split()


def corpora_folder() -> Path:
    given = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TRANSLATOR_CORPORA")
    return Path(given) if given else Path(__file__).resolve().parents[3] / "shared" / "corpora"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", header=None, names=["english", "spanish"], quoting=3, dtype=str,
                       keep_default_na=False)


def main() -> None:
    folder = corpora_folder() / "spa-eng"
    train, test = read(folder / "train.tsv"), read(folder / "test.tsv")
    counts = Counter(w for text in pd.concat([train["english"], train["spanish"]]) for w in WORD.findall(text))
    seen = set(counts)

    def is_name(word: str) -> bool:  # written capitalised at least 100 times as often as in lowercase
        return counts[word.lower()] * 100 <= counts[word]
    rng = random.Random(11)
    names = [n for n in NAMES if n not in seen]
    rng.shuffle(names)

    def unseen_number(digits: int) -> str:
        while True:
            candidate = str(rng.randrange(10 ** (digits - 1), 10 ** digits))
            if candidate not in seen:
                return candidate

    rows, done, turn = [], set(), itertools.count()
    for english, spanish in test.itertuples(index=False):
        if spanish in done:
            continue
        shared_names = [w for w in dict.fromkeys(CAPITALISED.findall(spanish))
                        if re.search(rf"\b{w}\b", english) and is_name(w)]
        shared_numbers = [n for n in dict.fromkeys(NUMBER.findall(spanish)) if re.search(rf"\b{n}\b", english)]
        if not shared_names and not shared_numbers:
            continue
        swaps = {w: names[next(turn) % len(names)] for w in shared_names}
        swaps |= {n: unseen_number(max(3, len(n))) for n in shared_numbers}
        for old, new in swaps.items():
            english = re.sub(rf"\b{re.escape(old)}\b", new, english)
            spanish = re.sub(rf"\b{re.escape(old)}\b", new, spanish)
        rows.append((english, spanish))
        done.add(spanish)
        if len(rows) == 300:
            break
    out = Path(__file__).with_name("names-numbers.tsv")
    out.write_text("".join(f"{e}\t{s}\n" for e, s in rows), encoding="utf-8")
    print(f"{out}: {len(rows)} pairs; {len(names)} unseen names in the pool")


if __name__ == "__main__":
    main()
