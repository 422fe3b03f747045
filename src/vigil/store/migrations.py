"""Named schema migrations, applied in order and recorded in ``schema_migrations``.

Never edit a migration that has shipped: add a new one. Keys are ``(source, source_id)``
and are enforced by the ingest merge rather than a PRIMARY KEY, because DuckDB's ART
index costs ~2 GB of RAM per 1.5 M rows (measured, SOURCES.md §3) and loads anti-join
per batch anyway.
"""

from __future__ import annotations

# Columns common to every record kind, after the kind's own columns.
_PROVENANCE = """
    available_at     TIMESTAMP NOT NULL,   -- UTC time the record was knowable (backtests cut here)
    available_basis  VARCHAR NOT NULL,     -- how available_at was obtained (field or stated lag)
    url              VARCHAR,              -- link to the record's origin
    raw              VARCHAR NOT NULL,     -- the input row as read (TSV line or JSON object)
    record_hash      VARCHAR NOT NULL,     -- md5 of raw: a changed row is a revision
    batch_id         BIGINT NOT NULL       -- the batch (manifest row) that wrote it
"""

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_records",
        f"""
        CREATE SEQUENCE batch_id_seq START 1;
        CREATE TABLE batches (
            batch_id        BIGINT PRIMARY KEY,
            source          VARCHAR NOT NULL,
            kind            VARCHAR NOT NULL,
            input           VARCHAR NOT NULL,
            sha256          VARCHAR NOT NULL,
            published_md5   VARCHAR,
            bytes           BIGINT NOT NULL,
            rows_in         BIGINT NOT NULL,
            loaded          BIGINT NOT NULL,
            updated         BIGINT NOT NULL,
            duplicates      BIGINT NOT NULL,
            rejected        BIGINT NOT NULL,
            notes           VARCHAR,
            loader_version  VARCHAR NOT NULL,
            started_at      TIMESTAMP NOT NULL,
            finished_at     TIMESTAMP NOT NULL
        );
        CREATE TABLE rejects (
            batch_id     BIGINT NOT NULL,
            source       VARCHAR NOT NULL,
            input        VARCHAR NOT NULL,
            line         BIGINT,
            column_name  VARCHAR,
            error_type   VARCHAR NOT NULL,
            reason       VARCHAR NOT NULL,
            raw          VARCHAR
        );
        CREATE TABLE events (
            source          VARCHAR NOT NULL,
            source_id       VARCHAR NOT NULL,
            occurred_on     DATE NOT NULL,
            occurred_until  DATE NOT NULL,
            category        VARCHAR NOT NULL,
            mode            VARCHAR,
            source_code     VARCHAR,
            actor1          VARCHAR,
            actor1_country  VARCHAR,
            actor2          VARCHAR,
            actor2_country  VARCHAR,
            country         VARCHAR,
            admin1          VARCHAR,
            location        VARCHAR,
            latitude        DOUBLE,
            longitude       DOUBLE,
            geo_precision   VARCHAR,
            fatalities      INTEGER,
            mentions        INTEGER,
            goldstein       DOUBLE,
            tone            DOUBLE,
            summary         VARCHAR,
            {_PROVENANCE}
        );
        CREATE TABLE observations (
            source          VARCHAR NOT NULL,
            source_id       VARCHAR NOT NULL,
            series          VARCHAR NOT NULL,
            geo             VARCHAR NOT NULL,
            period_start    DATE NOT NULL,
            period_end      DATE NOT NULL,
            freq            VARCHAR NOT NULL,
            value           DOUBLE,
            unit            VARCHAR NOT NULL,
            attrs           VARCHAR,
            {_PROVENANCE}
        );
        CREATE TABLE documents (
            source          VARCHAR NOT NULL,
            source_id       VARCHAR NOT NULL,
            published_at    TIMESTAMP NOT NULL,
            doc_type        VARCHAR NOT NULL,
            title           VARCHAR,
            body            VARCHAR,
            language        VARCHAR,
            outlet          VARCHAR,
            {_PROVENANCE}
        );
        """,
    ),
    (
        # Who the actors are, in the source's own vocabulary: ACLED's inter codes as labels
        # ("State forces", "Rebel groups"…), GDELT's CAMEO actor type (MIL, GOV, REB…).
        "0002_event_actor_types",
        """
        ALTER TABLE events ADD COLUMN actor1_type VARCHAR;
        ALTER TABLE events ADD COLUMN actor2_type VARCHAR;
        """,
    ),
    (
        # Withdrawn records (ACLED's deletions): kept so that an older file loaded later
        # cannot bring a deleted record back; and the manifest counts them.
        "0003_tombstones",
        """
        CREATE TABLE tombstones (
            source      VARCHAR NOT NULL,
            kind        VARCHAR NOT NULL,
            source_id   VARCHAR NOT NULL,
            deleted_at  TIMESTAMP NOT NULL,
            batch_id    BIGINT NOT NULL
        );
        ALTER TABLE batches ADD COLUMN deleted BIGINT DEFAULT 0;
        """,
    ),
    (
        # Documents matched to indicators (issue 3). One row per (theatre, indicator,
        # document, method); rule_hash says which version of the rules produced it, so a
        # changed rule re-matches and unchanged documents are never matched twice.
        "0004_text_matches",
        """
        CREATE TABLE text_matches (
            theatre       VARCHAR NOT NULL,
            indicator     VARCHAR NOT NULL,
            source        VARCHAR NOT NULL,
            source_id     VARCHAR NOT NULL,
            published_at  TIMESTAMP NOT NULL,
            available_at  TIMESTAMP NOT NULL,
            outlet        VARCHAR,
            language      VARCHAR,
            kind          VARCHAR NOT NULL,   -- 'occurrence' or 'claim'
            cue           VARCHAR,            -- the denial/hypothetical/warning cue, for claims
            method        VARCHAR NOT NULL,   -- 'rules' or 'embedding'
            score         DOUBLE NOT NULL,    -- 1.0 for rules; cosine similarity for embeddings
            rule_hash     VARCHAR NOT NULL,
            matched_at    TIMESTAMP NOT NULL
        );
        CREATE TABLE doc_embeddings (      -- the [embed] extra: computed once per document
            source      VARCHAR NOT NULL,
            source_id   VARCHAR NOT NULL,
            model_sha   VARCHAR NOT NULL,     -- sha256 of the model weights that made it
            vector      FLOAT[384] NOT NULL
        );
        """,
    ),
    (
        # Which documents each indicator's text rule has examined (issue 3): a batch's
        # documents still carrying it, published at or after `since` (NULL: all).
        "0005_text_examined",
        """
        CREATE TABLE text_examined (
            theatre VARCHAR NOT NULL, indicator VARCHAR NOT NULL, method VARCHAR NOT NULL,
            rule_hash VARCHAR NOT NULL, source VARCHAR NOT NULL, batch_id BIGINT NOT NULL,
            since TIMESTAMP, examined BIGINT NOT NULL, examined_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        # Scenario assessments (issue 4): one row per (theatre, as_of, horizon, model), the
        # whole result as JSON, and one row per contribution so history can be queried.
        "0006_assessments",
        """
        CREATE TABLE assessments (
            assessment_id VARCHAR NOT NULL,   -- theatre|as_of|horizon|model_hash
            theatre       VARCHAR NOT NULL,
            as_of         DATE NOT NULL,
            horizon_days  INTEGER NOT NULL,
            model_hash    VARCHAR NOT NULL,   -- sha256 of the specs and the model version
            created_at    TIMESTAMP NOT NULL,
            result        JSON NOT NULL
        );
        CREATE TABLE assessment_contributions (
            assessment_id VARCHAR NOT NULL,
            set_id        VARCHAR NOT NULL,
            scenario_id   VARCHAR NOT NULL,
            indicator     VARCHAR NOT NULL,   -- or an extra evidence source's item
            source        VARCHAR NOT NULL,   -- 'indicator' or the extra evidence's id
            state         VARCHAR,
            reading_date  DATE,
            decay         DOUBLE NOT NULL,
            weight        DOUBLE NOT NULL,
            llr           DOUBLE NOT NULL
        );
        """,
    ),
    (
        # Analyst evidence (issue 12): documents an analyst loads (their passages are rows of
        # `documents` with source 'analyst', matched like headlines) and graded notes, which
        # enter an indicator's reading directly, weighted by their Admiralty grade.
        "0007_analyst_evidence",
        """
        CREATE TABLE analyst_documents (
            doc_id           VARCHAR NOT NULL,   -- the metadata's id, or derived from the file
            title            VARCHAR NOT NULL,
            published        DATE NOT NULL,
            date_precision   VARCHAR NOT NULL,   -- day, month or year (the date is the last day)
            date_basis       VARCHAR,
            outlet           VARCHAR,            -- NULL: unknown
            url              VARCHAR,
            language         VARCHAR NOT NULL,
            language_detected BOOLEAN NOT NULL,
            author           VARCHAR,
            reliability      VARCHAR,            -- Admiralty A-F of the source, if graded
            credibility      INTEGER,            -- Admiralty 1-6 of the content, if graded
            doc_type         VARCHAR NOT NULL,
            format           VARCHAR NOT NULL,
            path             VARCHAR NOT NULL,   -- where it was loaded from
            sha256           VARCHAR NOT NULL,   -- of the file: a changed file is an update
            passages         INTEGER NOT NULL,
            chars            INTEGER NOT NULL,
            pages            INTEGER,
            notes            VARCHAR,
            batch_id         BIGINT NOT NULL,
            loaded_at        TIMESTAMP NOT NULL,
            record_hash      VARCHAR NOT NULL    -- of the file and its metadata
        );
        CREATE TABLE notes (
            theatre          VARCHAR NOT NULL,
            note_id          VARCHAR NOT NULL,
            indicator        VARCHAR NOT NULL,
            observed_on      DATE NOT NULL,      -- the day the observation is about
            available_at     TIMESTAMP NOT NULL, -- when it was knowable (backtests cut here)
            valid_days       INTEGER NOT NULL,   -- how long it stands as a current reading
            state            VARCHAR NOT NULL,   -- normal, elevated or high
            level            DOUBLE,             -- in the indicator's level unit, if stated
            reliability      VARCHAR NOT NULL,   -- Admiralty A-F
            credibility      INTEGER NOT NULL,   -- Admiralty 1-6
            weight           DOUBLE NOT NULL,    -- from the grade (docs/NOTES.md)
            basis_kind       VARCHAR NOT NULL,   -- document, url or text
            basis            VARCHAR NOT NULL,   -- the document id, the URL or the text
            passage          INTEGER,            -- the cited passage of a document basis
            quote            VARCHAR,            -- the words of it the note rests on
            summary          VARCHAR NOT NULL,
            why              VARCHAR,            -- why this state and grade
            withdrawn_on     DATE,
            withdrawn_why    VARCHAR,
            file             VARCHAR NOT NULL,
            record_hash      VARCHAR NOT NULL,
            batch_id         BIGINT NOT NULL,
            loaded_at        TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "0008_watch_and_alerts",
        """
        -- what `vigil watch` remembers between runs, so a restart resumes where it stopped
        CREATE TABLE watch_state (
            source      VARCHAR NOT NULL,   -- an adapter name, or 'watch' for the loop itself
            key         VARCHAR NOT NULL,   -- e.g. last_interval, last_success, failures
            value       VARCHAR,            -- JSON
            updated_at  TIMESTAMP NOT NULL,
            PRIMARY KEY (source, key)
        );
        -- one row per cycle: when, how it ended, and one summary per source (JSON)
        CREATE SEQUENCE watch_cycle_seq START 1;
        CREATE TABLE watch_cycles (
            cycle_id     BIGINT PRIMARY KEY,
            theatre      VARCHAR NOT NULL,
            started_at   TIMESTAMP NOT NULL,
            finished_at  TIMESTAMP,
            status       VARCHAR NOT NULL,  -- running, done, stopped, failed
            as_of        DATE,              -- the date the cycle assessed
            summary      VARCHAR            -- JSON: per source what was fetched and loaded
        );
        -- alerts raised by the theatre's alert rules, once per crossing (alert_id dedupes)
        CREATE TABLE alerts (
            alert_id    VARCHAR PRIMARY KEY,  -- sha256 of theatre, rule, subject and crossing
            theatre     VARCHAR NOT NULL,
            rule        VARCHAR NOT NULL,     -- the rule's id in the theatre spec
            kind        VARCHAR NOT NULL,     -- band, move, state, observed, silent
            subject     VARCHAR NOT NULL,     -- the outcome, indicator or source
            as_of       DATE NOT NULL,        -- the assessment date that raised it
            raised_at   TIMESTAMP NOT NULL,
            message     VARCHAR NOT NULL,
            evidence    VARCHAR               -- JSON: what caused it (values, items)
        );
        -- each alert's delivery to each configured sink (retried until sent)
        CREATE TABLE alert_deliveries (
            alert_id      VARCHAR NOT NULL,
            sink          VARCHAR NOT NULL,
            status        VARCHAR NOT NULL,   -- sent or failed
            attempts      INTEGER NOT NULL,
            last_error    VARCHAR,
            delivered_at  TIMESTAMP,
            PRIMARY KEY (alert_id, sink)
        );
        """,
    ),
    (
        "0009_query_columns_and_border_distances",
        """
        -- the feed a per-feed total counts, as a column: the text series' denominators
        -- were a JSON lookup on attrs, which only DuckDB ran (Spark made it a Python UDF)
        ALTER TABLE observations ADD COLUMN feed VARCHAR;
        UPDATE observations SET feed = json_extract_string(attrs, '$.feed')
        WHERE series = 'rss.feed_items_total';
        -- distances of point-located events to the theatres' borders, kept up to date
        -- batch by batch (vigil.geo.events) instead of rebuilt from every event per use
        CREATE TABLE event_border_km (
            border     VARCHAR NOT NULL,   -- border id, e.g. BLR-UKR
            source     VARCHAR NOT NULL,
            source_id  VARCHAR NOT NULL,
            batch_id   BIGINT NOT NULL,    -- the event's batch when it was measured
            km         DOUBLE NOT NULL,    -- distance to the border line
            side       VARCHAR             -- which of the border's countries holds the point
        );
        -- per border: the geometry measured against and how far the table is up to date
        CREATE TABLE border_km_state (
            border         VARCHAR PRIMARY KEY,
            fingerprint    VARCHAR NOT NULL,   -- sha256 of the line, precisions, countries
            max_km         DOUBLE NOT NULL,    -- rows are kept out to this distance
            through_batch  BIGINT NOT NULL,    -- events of batches up to this are measured
            refreshed_at   TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        # Raw input lines become optional: VIGIL_KEEP_RAW=no stores NULL in
        # `raw`, half the demo store's bytes and four fifths of a GDELT-shaped one
        # (measured, docs/BENCHMARKS.md, "Merge").
        # record_hash stays NOT NULL: it is still the md5 of the line, taken at staging,
        # so revisions are detected whether or not the line itself is kept.
        "0010_optional_raw",
        """
        ALTER TABLE events ALTER COLUMN raw DROP NOT NULL;
        ALTER TABLE observations ALTER COLUMN raw DROP NOT NULL;
        ALTER TABLE documents ALTER COLUMN raw DROP NOT NULL;
        """,
    ),
    (
        # The evidence search's trigram index (vigil.store.search): each indexed
        # text (a document title, an event summary) as one row of its own id and version,
        # its lower-cased trigrams packed in BIGINTs, how many texts hold each trigram,
        # and up to which batch it covers (rows of newer batches are scanned).
        "0011_search_index",
        """
        CREATE TABLE search_rows (
            row_id     INTEGER NOT NULL,   -- the index's id of the text
            kind       VARCHAR NOT NULL,   -- 'document' (title) or 'event' (summary)
            source     VARCHAR NOT NULL,
            source_id  VARCHAR NOT NULL,
            batch_id   BIGINT NOT NULL     -- the version indexed: a revision has a newer one
        );
        CREATE TABLE search_postings (
            tri     BIGINT NOT NULL,       -- three code points of lower(text), 21 bits each
            row_id  INTEGER NOT NULL
        );
        CREATE TABLE search_trigrams (
            tri    BIGINT NOT NULL,
            texts  INTEGER NOT NULL        -- how many indexed texts hold it
        );
        CREATE TABLE search_state (
            covered_batch    BIGINT NOT NULL,  -- rows of batches up to this are indexed
            postings         BIGINT NOT NULL,
            sorted_postings  BIGINT NOT NULL,  -- postings in trigram order (then appended)
            refreshed_at     TIMESTAMP NOT NULL
        );
        -- nothing covered yet: every row is above the watermark, so every row is scanned
        INSERT INTO search_state VALUES (-9223372036854775808, 0, 0, now()::TIMESTAMP);
        """,
    ),
]

# Columns of each record kind, in table order, without batch_id (set by the ingest).
RECORD_KINDS = ("events", "observations", "documents")
