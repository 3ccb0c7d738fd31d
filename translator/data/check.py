"""The data doctor: what a corpus holds and what is wrong with it, before training.

Lengths and vocabularies are counted in words and punctuation marks (a plain
regex split), so the report does not depend on a learned tokenizer.
"""

from __future__ import annotations

import pandas as pd

from translator.data.corpus import Corpus

EXAMPLES = 5  # how many offending lines each finding lists


def word_lengths(sentences: pd.Series) -> pd.Series:
    return sentences.str.count(r"\w+|[^\w\s]")


def side_report(sentences: pd.Series, lines: pd.Series) -> dict:
    """Counts, length percentiles and length outliers of one side of a corpus."""
    lengths = word_lengths(sentences)
    q1, q3 = lengths.quantile([0.25, 0.75])
    limit = q3 + 3 * max(q3 - q1, 1)  # Tukey's "far out" fence
    outliers = lengths[lengths > limit].sort_values(ascending=False)
    return {
        "unique_sentences": int(sentences.nunique()),
        "vocabulary": int(sentences.str.findall(r"\w+|[^\w\s]").explode().nunique()),
        "length_percentiles": {f"p{p}": float(lengths.quantile(p / 100)) for p in (50, 90, 99)}
        | {"max": int(lengths.max()), "mean": round(float(lengths.mean()), 2)},
        "outliers": {
            "count": int(len(outliers)),
            "longer_than": float(limit),
            "examples": [
                {"line": int(lines[i]), "length": int(outliers[i]), "text": _clip(sentences[i])}
                for i in outliers.index[:EXAMPLES]
            ],
        },
    }


def overlap_report(corpus: Corpus, other: Corpus) -> dict:
    """Sentences `corpus` shares with `other`, per side and as whole pairs."""
    report = {"file": other.name}
    for side in ("source", "target"):
        shared = pd.Index(corpus.pairs[side].unique()).intersection(other.pairs[side].unique())
        report[f"shared_{side}_sentences"] = int(len(shared))
        report[f"{side}_examples"] = [_clip(s) for s in shared[:EXAMPLES]]
    merged = corpus.pairs.merge(other.pairs, on=["source", "target"])
    report["shared_pairs"] = int(merged[["source", "target"]].drop_duplicates().shape[0])
    return report


def check_corpus(corpus: Corpus, against: list[Corpus] = ()) -> dict:
    """The full report on `corpus`, as plain data (ready for JSON)."""
    pairs = corpus.pairs
    duplicated = pairs.duplicated(["source", "target"])
    return {
        "file": corpus.name,
        "pairs": int(len(pairs)),
        "empty_lines": corpus.empty_lines,
        "bad_lines": [{"line": b.line, "reason": b.reason} for b in corpus.bad_lines],
        "duplicate_pairs": {"count": int(duplicated.sum()), "lines": [int(n) for n in pairs["line"][duplicated][:EXAMPLES]]},
        "source": side_report(pairs["source"], pairs["line"]),
        "target": side_report(pairs["target"], pairs["line"]),
        "overlap": [overlap_report(corpus, other) for other in against],
    }


def found_problems(report: dict) -> bool:
    """Bad lines, or sentences shared with another corpus: what makes `data check` exit 1, as linters do."""
    shared = ("shared_pairs", "shared_source_sentences", "shared_target_sentences")
    return bool(report["bad_lines"]) or any(o.get(key, 0) for o in report["overlap"] for key in shared)


def format_report(report: dict) -> str:
    """The report as a few short tables for a terminal."""
    sides = pd.DataFrame(
        {
            side: {
                "unique sentences": f"{report[side]['unique_sentences']:,}",
                "vocabulary (words)": f"{report[side]['vocabulary']:,}",
                **{f"length {k}": f"{v:g}" for k, v in report[side]["length_percentiles"].items()},
                "length outliers": f"{report[side]['outliers']['count']:,}",
            }
            for side in ("source", "target")
        }
    )
    out = [
        f"{report['file']}: {report['pairs']:,} pairs, {report['empty_lines']:,} empty lines, "
        f"{len(report['bad_lines']):,} bad lines, {report['duplicate_pairs']['count']:,} duplicate pairs",
        "",
        sides.to_string(),
    ]
    for side in ("source", "target"):
        outliers = report[side]["outliers"]
        if outliers["count"]:
            out += ["", f"{side} length outliers (over {outliers['longer_than']:g} words), longest first:"]
            out += [f"  line {e['line']}: {e['length']} words: {e['text']}" for e in outliers["examples"]]
    if report["bad_lines"]:
        out += ["", "bad lines:"] + [f"  line {b['line']}: {b['reason']}" for b in report["bad_lines"][:20]]
        if len(report["bad_lines"]) > 20:
            out.append(f"  ... and {len(report['bad_lines']) - 20:,} more (--json lists all)")
    if report["duplicate_pairs"]["count"]:
        lines = ", ".join(map(str, report["duplicate_pairs"]["lines"]))
        out += ["", f"duplicate pairs at lines {lines}{' ...' if report['duplicate_pairs']['count'] > EXAMPLES else ''}"]
    if report["overlap"]:
        table = pd.DataFrame(report["overlap"]).set_index("file")[
            ["shared_source_sentences", "shared_target_sentences", "shared_pairs"]
        ]
        out += ["", "overlap with other files:", table.to_string()]
        if table.to_numpy().any():
            out.append("WARNING: sentences shared with another file (e.g. train/test overlap) inflate test scores")
    return "\n".join(out)


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
