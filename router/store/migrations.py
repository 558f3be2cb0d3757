"""Schema migrations for the SQLite store, applied in order at open.

Stage: the store layer. ``PRAGMA user_version`` records how many have been
applied; each migration runs in its own transaction, so a crash mid-upgrade
leaves the previous version intact. Never edit a released migration: add one.
"""

from __future__ import annotations

from router.cap import read_stored
from router.store.sql import Connection

MIGRATIONS: tuple[str, ...] = (
    # 1: alerts, their references and their delivery plans.
    """
    CREATE TABLE alerts (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT NOT NULL UNIQUE,
        sender         TEXT NOT NULL,
        identifier     TEXT NOT NULL,
        sent_utc       TEXT NOT NULL,          -- the CAP key compares instants, in UTC
        sent           TEXT NOT NULL,          -- as the alert wrote it (its own offset)
        status         TEXT NOT NULL,
        msg_type       TEXT NOT NULL,
        state          TEXT NOT NULL,
        profile        TEXT NOT NULL,
        authority      TEXT NOT NULL,
        source_version TEXT NOT NULL,
        content_hash   TEXT NOT NULL,
        received_at    TEXT NOT NULL,
        findings       TEXT NOT NULL,          -- JSON list of warnings kept with the alert
        superseded_by  TEXT REFERENCES alerts(id),
        cancelled_by   TEXT REFERENCES alerts(id),
        raw            BLOB NOT NULL,          -- the bytes exactly as received
        UNIQUE (sender, identifier, sent_utc)
    );
    CREATE INDEX alerts_state ON alerts(state, seq);
    CREATE INDEX alerts_received ON alerts(received_at, seq);

    CREATE TABLE alert_references (
        alert_id     TEXT NOT NULL REFERENCES alerts(id),
        position     INTEGER NOT NULL,
        sender       TEXT NOT NULL,
        identifier   TEXT NOT NULL,
        sent_utc     TEXT NOT NULL,
        sent         TEXT NOT NULL,
        resolved_id  TEXT REFERENCES alerts(id),
        PRIMARY KEY (alert_id, position)
    );

    CREATE TABLE deliveries (
        alert_id        TEXT NOT NULL REFERENCES alerts(id),
        channel         TEXT NOT NULL,
        route           TEXT NOT NULL,
        fallback_for    TEXT,
        state           TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        idempotency_key TEXT NOT NULL UNIQUE,
        deadline        TEXT,                  -- latest <expires>: no delivery after it
        updated_at      TEXT NOT NULL,
        PRIMARY KEY (alert_id, channel)
    );
    CREATE INDEX deliveries_due ON deliveries(state, alert_id);
    """,
    # 2: delivery attempts, retry schedule, receipts, fallbacks that replaced a channel.
    """
    ALTER TABLE deliveries ADD COLUMN next_attempt_at TEXT;
    ALTER TABLE deliveries ADD COLUMN replaced TEXT;
    ALTER TABLE deliveries ADD COLUMN receipt TEXT;
    ALTER TABLE deliveries ADD COLUMN last_error TEXT;
    CREATE TABLE attempts (
        alert_id    TEXT NOT NULL,
        channel     TEXT NOT NULL,
        number      INTEGER NOT NULL,
        started_at  TEXT NOT NULL,
        ended_at    TEXT NOT NULL,
        outcome     TEXT NOT NULL,             -- delivered | transient | permanent | expired
        reason      TEXT,
        error       TEXT,
        PRIMARY KEY (alert_id, channel, number),
        FOREIGN KEY (alert_id, channel) REFERENCES deliveries(alert_id, channel)
    );
    """,
    # accessible variants rendered once per alert, and their assets (spoken audio).
    """
    CREATE TABLE alert_variants (
        alert_id     TEXT PRIMARY KEY REFERENCES alerts(id),
        variants     TEXT NOT NULL,            -- JSON: router.render RenderedAlert
        speech_state TEXT NOT NULL,            -- pending | done | failed | off
        updated_at   TEXT NOT NULL
    );
    CREATE INDEX alert_variants_speech ON alert_variants(speech_state);
    CREATE TABLE alert_assets (
        alert_id    TEXT NOT NULL REFERENCES alerts(id),
        name        TEXT NOT NULL,             -- file name under data_dir/assets/<alert id>/
        kind        TEXT NOT NULL,             -- speech
        language    TEXT NOT NULL,
        mime_type   TEXT NOT NULL,
        size        INTEGER NOT NULL,
        sha256      TEXT NOT NULL,
        duration_s  REAL,
        detail      TEXT NOT NULL,             -- JSON: voice and what else made it
        created_at  TEXT NOT NULL,
        PRIMARY KEY (alert_id, name)
    );
    """,
    # subscriber registry (opt-in addresses with home areas) and per-recipient outcomes.
    """
    CREATE TABLE subscribers (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,             -- address kind: msisdn, wallet, ...
        address     TEXT NOT NULL,             -- personal data: never logged
        language    TEXT,
        created_at  TEXT NOT NULL,
        UNIQUE (kind, address)
    );
    CREATE TABLE subscriber_areas (
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        lat         REAL,                      -- a point (WGS 84) ...
        lon         REAL,
        value_name  TEXT,                      -- ... or a CAP geocode
        value       TEXT
    );
    CREATE INDEX subscriber_areas_subscriber ON subscriber_areas(subscriber_id);
    CREATE INDEX subscriber_areas_geocode ON subscriber_areas(value_name, value, subscriber_id);
    CREATE TABLE recipient_outcomes (
        delivery_key  TEXT NOT NULL,           -- the delivery's idempotency key
        subscriber_id INTEGER NOT NULL,
        state         TEXT NOT NULL,           -- claimed | sent | delivered | failed | expired
        claim         TEXT,                    -- the run that claimed it
        reference     TEXT,                    -- the network's message id(s)
        updated_at    TEXT NOT NULL,
        PRIMARY KEY (delivery_key, subscriber_id)
    ) WITHOUT ROWID;
    """,
    # wallet push subscriptions (no identity, no location) and per-recipient results.
    """
    CREATE TABLE wallet_subscriptions (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,       -- random handle for unsubscribing
        endpoint   TEXT NOT NULL UNIQUE,       -- RFC 8030 push resource URL
        p256dh     TEXT NOT NULL,              -- RFC 8291 user agent public key
        auth       TEXT NOT NULL,              -- RFC 8291 authentication secret
        country    TEXT,                       -- optional ISO 3166-1 alpha-2
        languages  TEXT,                       -- optional preferred BCP 47 tags, comma-separated
        created_on TEXT NOT NULL               -- a day, not an instant
    );
    CREATE TABLE wallet_push_results (
        delivery_key     TEXT NOT NULL,        -- the delivery's idempotency key
        subscription_seq INTEGER NOT NULL,
        outcome          TEXT NOT NULL,        -- sent | failed | unsent | gone
        PRIMARY KEY (delivery_key, subscription_seq)
    ) WITHOUT ROWID;
    """,
    # 6: the XML-DSig verdict kept with each alert (JSON: state, signer, certificate, when).
    """
    ALTER TABLE alerts ADD COLUMN signature TEXT;
    """,
    # 7: recipient_messages -- network message id -> recipient, so late receipts settle
    """
    CREATE TABLE recipient_messages (
        channel       TEXT NOT NULL,           -- the channel instance that sent it
        message_id    TEXT NOT NULL,           -- the network's id (one per SMS part)
        delivery_key  TEXT NOT NULL,
        subscriber_id INTEGER NOT NULL,
        state         TEXT NOT NULL,           -- sent | delivered | failed | expired
        created_at    TEXT NOT NULL,
        PRIMARY KEY (channel, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX recipient_messages_recipient
        ON recipient_messages(delivery_key, subscriber_id);
    """,
    # 8: the tamper-evident audit trail (a hash chain, router.audit.chain) and its head.
    """
    CREATE TABLE audit_log (
        seq        INTEGER PRIMARY KEY,        -- 1, 2, 3 ... in the order appended, no gaps
        at         TEXT NOT NULL,              -- UTC, milliseconds
        kind       TEXT NOT NULL,              -- router.audit.chain.AuditKind
        via        TEXT NOT NULL,              -- principal: api | cli | service
        authority  TEXT,                       -- principal: the key's authority
        key_id     TEXT,                       -- principal: sha256: + 16 hex of the key hash
        actor      TEXT,                       -- principal: the OS user of a CLI command
        subject    TEXT,                       -- what it is about (an alert id, a key id)
        detail     TEXT NOT NULL,              -- canonical JSON object
        prev_hash  TEXT NOT NULL,              -- the hash of entry seq - 1 (64 zeros for 1)
        hash       TEXT NOT NULL               -- SHA-256 of the canonical form (docs/audit.md)
    );
    CREATE INDEX audit_log_at ON audit_log(at, seq);
    CREATE TABLE audit_head (
        one   INTEGER PRIMARY KEY CHECK (one = 1),
        seq   INTEGER NOT NULL,                -- the last entry: a removed tail shows here
        hash  TEXT NOT NULL
    );
    INSERT INTO audit_head VALUES (1, 0,
        '0000000000000000000000000000000000000000000000000000000000000000');
    """,
    # 9: why a wallet recipient ended failed or gone (a FailureReason value), per push result
    """
    ALTER TABLE wallet_push_results ADD COLUMN reason TEXT;
    """,
    # 10: API keys made with `tocsin keys new --authority` and four-eyes approvals.
    """
    CREATE TABLE api_keys (
        id          TEXT PRIMARY KEY,          -- the principal's id within its authority
        authority   TEXT NOT NULL,
        name        TEXT NOT NULL,
        roles       TEXT NOT NULL,             -- comma-separated: submit,approve,...
        key_hash    TEXT NOT NULL UNIQUE,      -- sha256:... (the key itself is never stored)
        created_at  TEXT NOT NULL,
        revoked_at  TEXT                       -- set: the key is refused at once
    );
    CREATE TABLE approvals (
        alert_id        TEXT PRIMARY KEY REFERENCES alerts(id),
        reason          TEXT NOT NULL,         -- the approval rule the alert matched
        submitted_by    TEXT NOT NULL,         -- principal id
        submitted_at    TEXT NOT NULL,
        expires_at      TEXT NOT NULL,         -- unapproved after this: expired_unapproved
        plan            TEXT NOT NULL,         -- JSON delivery plan, made real on approval
        deadline        TEXT,                  -- the deliveries' deadline (latest <expires>)
        decision        TEXT,                  -- approved | rejected | expired
        decided_by      TEXT,
        decided_at      TEXT,
        decision_reason TEXT
    );
    CREATE INDEX approvals_open ON approvals(decision, expires_at);
    """,
    # 11: a failed or expired delivery re-planned on request: who asked, when, and the
    # attempt count its back-off restarts from.
    """
    ALTER TABLE deliveries ADD COLUMN retry_requested_by TEXT;  -- JSON {authority, key}
    ALTER TABLE deliveries ADD COLUMN retry_requested_at TEXT;
    ALTER TABLE deliveries ADD COLUMN retry_base INTEGER NOT NULL DEFAULT 0;
    """,
    # 12: channel state: a durable key -> value area per channel instance, changed by
    # compare-and-set on ``version`` (router.channel.ChannelState).
    """
    CREATE TABLE channel_state (
        channel     TEXT NOT NULL,             -- the channel instance name
        key         TEXT NOT NULL,
        value       BLOB NOT NULL,
        version     INTEGER NOT NULL,          -- 1 when written first, +1 per change
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (channel, key)
    ) WITHOUT ROWID;
    """,
    # 13: claims with a lease and a fencing token (router.store.leases): which node holds
    # a delivery being sent, until when, and the token an outcome must carry to be stored.
    """
    ALTER TABLE deliveries ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deliveries ADD COLUMN lease_node TEXT;
    ALTER TABLE deliveries ADD COLUMN lease_expires TEXT;
    """,
    # 14: the EDXL-DE envelope a feed delivered the alert in (router.feeds), as received.
    """
    ALTER TABLE alerts ADD COLUMN envelope BLOB;
    """,
    # 15: the alert's latest <expires> on each asset (NULL: never expires, kept); the
    # pruning task deletes what expired longer ago than the retention period.
    """
    ALTER TABLE alert_assets ADD COLUMN expires_at TEXT;
    CREATE INDEX alert_assets_expires ON alert_assets(expires_at);
    """,
    # 16: the console's drafts: a compose form saved by its principal, never sent.
    """
    CREATE TABLE drafts (
        id          TEXT PRIMARY KEY,          -- random
        owner       TEXT NOT NULL,             -- principal id: only it reads the draft
        authority   TEXT NOT NULL,
        title       TEXT NOT NULL,             -- the first headline, for the list
        form        TEXT NOT NULL,             -- JSON object: the compose form's fields
        version     INTEGER NOT NULL,          -- 1 when saved first, +1 per change
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX drafts_owner ON drafts(owner, updated_at);
    """,
    # 17: each alert's CAP event texts, case-folded, for the list's ``event`` filter
    # (``backfill_events`` fills them in for the alerts stored before it).
    """
    CREATE TABLE alert_events (
        alert_id    TEXT NOT NULL REFERENCES alerts(id),
        event       TEXT NOT NULL,             -- str.casefold() of an info's <event>
        PRIMARY KEY (event, alert_id)
    );
    CREATE INDEX audit_log_subject ON audit_log(subject, seq);  -- one alert's audit trail
    """,
)

EVENTS_MIGRATION = 17
"""The SQLite migration after which ``backfill_events`` runs (PostgreSQL: its 5)."""


def backfill_events(conn: Connection) -> None:
    """The ``alert_events`` rows of the alerts stored before there was the table, read
    from each stored document as ingest reads it, in the migration's transaction."""
    for row in conn.execute("SELECT id, raw FROM alerts").fetchall():
        alert = read_stored(bytes(row[1]))
        if alert is None:
            continue
        conn.executemany("INSERT INTO alert_events VALUES (?, ?)",
                         [(row[0], event) for event in sorted(
                             {info.event.casefold() for info in alert.infos})])
