"""Precision and recall of the Belarus text rules against the hand labels.

Run from the repository root (prints a Markdown table; nothing is written)::

    PYTHONPATH=src python labels/evaluate.py [-v] [PATH_TO_PARQUET]
    PYTHONPATH=src python labels/evaluate.py --embed [THRESHOLD] [PATH_TO_PARQUET]
    PYTHONPATH=src python labels/evaluate.py --sweep [PATH_TO_PARQUET]

For every labelled headline the text is rebuilt from the snapshot exactly as the matcher
builds it (``title + ' ' + description``; ``source_id`` = ``md5(link || chr(31) || title)``)
and every indicator's text rule is applied with :func:`vigil.text.rules.compile_rule`.
Per indicator, over the labelled rows:

    TP = matched and labelled,  FP = matched, not labelled,  FN = labelled, not matched
    precision = TP / (TP + FP),  recall = TP / (TP + FN)

With ``--embed [THRESHOLD]`` the embedding matcher (``[embed]`` extra) is scored the same way:
a headline matches when the best cosine similarity of its embedded headline
(:func:`vigil.text.embed.headline`) to the indicator's ``examples`` reaches THRESHOLD
(default :data:`vigil.text.embed.THRESHOLD`), and, under "rules or embedding", the union of
both. ``--sweep`` prints micro precision and recall of the embedding matcher on the
development rows for a range of thresholds: the threshold is chosen there, then read on the
holdout.

Kind agreement: for true positives, how often :func:`vigil.text.claims.classify` tags the
match as the label's kind (``occurrence`` or ``claim``).

The sample is stratified and enriched for Belarus (labels/README.md), so these are rates on
the labelled sample, not on the whole corpus; ``random`` FP counts the false positives among
the 100 headlines drawn from everything. Two tables: the *development* strata (410 rows, the
rules were refined on them, so their figures are optimistic) and the *holdout* strata (100
rows labelled after the rules were frozen: the honest estimate).
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from vigil.text.claims import classify
from vigil.text.rules import compile_rule
from vigil.theatre import load_theatre

HERE = Path(__file__).resolve().parent
LABELS = HERE / "headlines_belarus.csv"


def _sibling(name: str):
    """Import a script of this folder by path (labels/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"vigil_labels_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


_sample = _sibling("sample")
default_parquet, draw = _sample.default_parquet, _sample.draw


@dataclass
class Score:
    """Confusion counts of one indicator's rule on the labelled sample."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    fp_random: int = 0
    kind_agree: int = 0
    misses: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def load_labels(path: Path = LABELS) -> dict[str, tuple[set[str], str]]:
    """``source_id`` → (indicator ids, kind)."""
    with path.open(encoding="utf-8", newline="") as f:
        return {
            r["source_id"]: ({i for i in r["indicators"].split(";") if i}, r["kind"])
            for r in csv.DictReader(f)
        }


def texts(parquet: Path, ids: list[str]) -> dict[str, tuple[str, str, str | None]]:
    """``source_id`` → (title, description, language) for the labelled ids."""
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE ids (source_id VARCHAR)")
    con.executemany("INSERT INTO ids VALUES (?)", [(i,) for i in ids])
    rows = con.execute(
        """SELECT md5(coalesce(link, '') || chr(31) || coalesce(title, '')) AS sid,
                  coalesce(title, ''), coalesce(description, ''),
                  lower(substr(language, 1, 2))
           FROM read_parquet(?) WHERE sid IN (SELECT source_id FROM ids)""",
        [str(parquet)],
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def split(parquet: Path, part: str) -> tuple[dict, dict, set[str]]:
    """The ``development`` or ``holdout`` labels, their texts and the ``random`` ids."""
    strata = dict((sid, stratum) for stratum, sid in draw(parquet))
    holdout = part == "holdout"
    labels = {
        sid: v for sid, v in load_labels().items() if strata[sid].startswith("holdout") == holdout
    }
    random_ids = {sid for sid, stratum in strata.items() if stratum == "random"}
    return labels, texts(parquet, list(labels)), random_ids


def rule_matcher(ind):
    """``(sid, title, body) -> span or None``: the indicator's compiled text rule."""
    rule = compile_rule(ind.evidence.text)
    return lambda sid, title, body: rule.span(f"{title} {body}")


def evaluate(parquet: Path, part: str = "development", matcher=rule_matcher) -> dict[str, Score]:
    """Score every indicator that has a text rule on the ``development`` or ``holdout`` rows.

    ``matcher(indicator)`` returns a function of (source_id, title, body) that is falsy when
    the headline does not match, else the span to classify as occurrence or claim (``True``
    when there is none: the whole text is classified).
    """
    labels, docs, random_ids = split(parquet, part)
    scores: dict[str, Score] = {}
    for ind in load_theatre("belarus").indicators:
        if ind.evidence.text is None:
            continue
        match, score = matcher(ind), Score()
        for sid, (wanted, kind) in labels.items():
            title, body, lang = docs[sid]
            hit, labelled = match(sid, title, body), ind.id in wanted
            if hit and labelled:
                score.tp += 1
                span = hit if isinstance(hit, tuple) else None
                score.kind_agree += classify(f"{title}\n{body}", span, lang)[0] == kind
            elif hit:
                score.fp += 1
                score.fp_random += sid in random_ids
                score.false.append(sid)
            elif labelled:
                score.fn += 1
                score.misses.append(sid)
        scores[ind.id] = score
    return scores


def cosines(parquet: Path) -> dict[tuple[str, str], float]:
    """(indicator, source_id) → best cosine of the labelled headline to the exemplars."""
    from vigil.text import embed

    embedder = embed.load_embedder()
    ids = list(load_labels())
    docs = texts(parquet, ids)
    vectors = embed.unit_vectors(
        embedder([embed.headline(*docs[sid][:2]) for sid in ids]), len(ids)
    )
    out = {}
    for ind in load_theatre("belarus").indicators:
        if ind.evidence.text is None or not ind.evidence.text.examples:
            continue
        best = embed.max_cosine(vectors, embedder(list(ind.evidence.text.examples)))
        out.update({(ind.id, sid): float(c) for sid, c in zip(ids, best, strict=True)})
    return out


def embedding_matcher(cos: dict, threshold: float, with_rules: bool = False):
    def make(ind):
        rules = rule_matcher(ind)

        def match(sid, title, body):
            hit = rules(sid, title, body) if with_rules else None
            return hit or cos.get((ind.id, sid), -1.0) >= threshold

        return match

    return make


def micro(scores: dict[str, Score]) -> tuple[float | None, float | None]:
    tp, fp, fn = (sum(getattr(s, k) for s in scores.values()) for k in ("tp", "fp", "fn"))
    return (tp / (tp + fp) if tp + fp else None, tp / (tp + fn) if tp + fn else None)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def table(scores: dict[str, Score]) -> str:
    """The Markdown table docs/INDICATORS.md carries."""
    head = (
        "| indicator | labelled | matched | TP | FP | FN | precision | recall "
        "| FP in `random` | kind agrees |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for ind, s in sorted(scores.items()):
        lines.append(
            f"| `{ind}` | {s.tp + s.fn} | {s.tp + s.fp} | {s.tp} | {s.fp} | {s.fn} "
            f"| {_pct(s.precision)} | {_pct(s.recall)} | {s.fp_random} | {s.kind_agree}/{s.tp} |"
        )
    tp, fp, fn = (sum(getattr(s, k) for s in scores.values()) for k in ("tp", "fp", "fn"))
    micro_p, micro_r = micro(scores)
    lines.append(
        f"| **all (micro)** | {tp + fn} | {tp + fp} | {tp} | {fp} | {fn} "
        f"| {_pct(micro_p)} | {_pct(micro_r)} | | |"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    flags = {a for a in argv[1:] if a.startswith("-")}
    args = [a for a in argv[1:] if not a.startswith("-")]
    embedding = "--embed" in flags or "--sweep" in flags
    threshold = None
    if embedding and args and args[0].replace(".", "", 1).isdigit():
        threshold = float(args.pop(0))
    parquet = Path(args[0]) if args else default_parquet()
    matchers = {"rules": rule_matcher}
    if embedding:
        from vigil.text.embed import THRESHOLD

        cos = cosines(parquet)
        threshold = THRESHOLD if threshold is None else threshold
        if "--sweep" in flags:
            print("| threshold | precision | recall |\n|---|---|---|")
            for t in [0.30 + 0.025 * i for i in range(17)]:
                p, r = micro(evaluate(parquet, "development", embedding_matcher(cos, t)))
                print(f"| {t:.3f} | {_pct(p)} | {_pct(r)} |")
            return 0
        matchers = {
            f"embedding >= {threshold}": embedding_matcher(cos, threshold),
            f"rules or embedding >= {threshold}": embedding_matcher(cos, threshold, True),
        }
    for name, matcher in matchers.items():
        for part in ("development", "holdout"):
            scores = evaluate(parquet, part, matcher)
            print(f"\n{name}, {part}:\n\n{table(scores)}")
            if "-v" in flags:  # ids of misses and false positives, to read them in the snapshot
                for ind, s in sorted(scores.items()):
                    print(ind, "FN:", " ".join(s.misses), "FP:", " ".join(s.false))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
