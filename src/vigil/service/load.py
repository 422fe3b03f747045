"""Loading evidence: plan what to load (files, a data folder or a live feed) and load each
file as its own batch, so that one failing file is reported while the others still load.
The CLI's `vigil ingest`, the demo and :func:`vigil.api.load` call these; nothing here
prints."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vigil import sources
from vigil.errors import UsageError, VigilError
from vigil.ingest import BatchReport, NotLoaded, ingest_file, plan_folder
from vigil.store import search

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Failure:
    """A file whose batch failed (and was rolled back) while the others went on."""

    input: str
    error: str
    hint: str | None


@dataclass(frozen=True)
class Load:
    """What one load did: a report per batch, the files that failed, the entries of a data
    folder that were not loaded (with the reason), and the live fetch's warnings."""

    reports: tuple[BatchReport, ...]
    failures: tuple[Failure, ...] = ()
    skipped: tuple[NotLoaded, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "batches": [r.as_dict() for r in self.reports],
            "not_loaded": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "failed": [asdict(f) for f in self.failures],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per batch: source, input, rows in, loaded, updated, duplicates…"""
        import pandas as pd

        return pd.DataFrame([r.as_dict() for r in self.reports])


#: a unit of work: the adapter and the file (or the live fetcher's item, with its md5/url)
Work = list[tuple[object, object]]


def plan(
    source: str | None = None,
    paths: Sequence[Path] = (),
    data: Path | None = None,
    *,
    live: bool = False,
    options: Mapping[str, str] | None = None,
    cache: Path | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> tuple[Work, list[NotLoaded]]:
    """What to load: every recognised folder of ``data``, the ``paths`` of ``source``, or its
    live feed (fetched here into ``cache``; ``on_warning`` hears what the fetch noticed).
    A :class:`UsageError` for a request that names nothing or mixes the three."""
    if data is not None:
        if source or paths or live:
            raise UsageError("--data loads a whole folder: give no SOURCE, PATH or --live with it")
        return plan_folder(Path(data), sources.all_adapters())
    if source is None:
        raise UsageError(
            "say what to load", "vigil ingest SOURCE PATH... | --data DIR | SOURCE --live"
        )
    adapter = sources.get(source)
    if live:
        if paths:
            raise UsageError("--live fetches files itself: give no PATH with it")
        from vigil import settings
        from vigil.sources.http import Fetcher

        fetcher = Fetcher(Path(cache or settings.get("cache")))
        fetched = adapter.fetch_live(fetcher, **dict(options or {}))
        for warning in fetcher.warnings:
            if on_warning:
                on_warning(warning)
        return [(adapter, f) for f in fetched], []
    if not paths:
        raise UsageError(
            f"no files given for {source}", f"vigil ingest {source} PATH... (or --live)"
        )
    return [(adapter, Path(p)) for p in paths], []


def load(
    con,
    work: Work,
    *,
    force: bool = False,
    max_reject_share: float | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    raise_bugs: bool = False,
) -> tuple[list[BatchReport], list[Failure]]:
    """Load each file as its own batch; a failing file is reported, the others still load.
    ``progress(done, total, label)`` hears each file as it starts; ``raise_bugs`` re-raises
    (the CLI's --debug) instead of reporting."""
    reports: list[BatchReport] = []
    failures: list[Failure] = []
    for done, (adapter, item) in enumerate(work):
        path = Path(getattr(item, "path", item))
        if progress:
            progress(done, len(work), f"{adapter.name}: {path.name}")
        try:
            reports.append(
                ingest_file(
                    con,
                    adapter,
                    path,
                    force=force,
                    max_reject_share=max_reject_share,
                    published_md5=getattr(item, "md5", None),
                    label=getattr(item, "url", None),
                )
            )
        except VigilError as exc:
            if raise_bugs:
                raise
            failures.append(Failure(str(path), exc.message, exc.hint))
        except Exception as exc:  # a bug: named, and the other files still load
            if raise_bugs:
                raise
            failures.append(_bug(path, exc))
    if progress:
        progress(len(work), len(work), "")
    if any(r.loaded or r.deleted for r in reports):
        _refresh_search(con, failures, raise_bugs)
    return reports, failures


def _refresh_search(con, failures: list[Failure], raise_bugs: bool) -> None:
    """Bring the evidence search's index up to the batches just loaded, in a transaction of
    its own (:func:`vigil.store.search.refresh`): the batches are committed whatever
    happens here, and a failed refresh leaves the index as it was, which readers still
    search exactly (rows of batches it does not cover are scanned). So a failure is
    reported like a file's, and the next load's refresh catches up."""
    try:
        search.refresh(con)
    except VigilError as exc:
        if raise_bugs:
            raise
        failures.append(Failure("search index", exc.message, exc.hint))
    except Exception as exc:  # a bug: named; the loaded batches stay loaded
        if raise_bugs:
            raise
        failures.append(_bug(Path("search index"), exc))


def _bug(path: Path, exc: Exception) -> Failure:
    """A failure no error of Vigil's explains (damaged input is an InputError by then):
    its type and message, and how to report it. KeyboardInterrupt is no Exception: it
    still stops the run."""
    text = " ".join(str(exc).split()) or "(no message)"
    return Failure(
        str(path),
        f"{path}: {type(exc).__name__}: {text}",
        "this is a bug in vigil, not in the file: run again with --debug and report it "
        "with the command you ran",
    )
