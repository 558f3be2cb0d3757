"""Schema migrations for the PostgreSQL store, applied in order at open.

Stage: the store layer (PostgreSQL). The tables are those of the SQLite store
(``router.store.migrations``) as they stand after its migration 15 (here 1, 2 and 3),
column for column and in the same order (some jobs insert by position), with three
differences:

- text is ``COLLATE "C"``: times are stored as UTC ISO 8601 text and compared as
  text, which orders them only under a bytewise collation (SQLite compares bytes);
- ``rowid`` is an explicit ``bigserial`` column on the tables the jobs order by it
  (SQLite has it implicitly);
- ``BLOB`` is ``bytea``, ``REAL`` is ``double precision``.

``tocsin_schema`` records the version. Two nodes starting together take a
transaction-scoped advisory lock first, so one migrates and the other, once the lock
is free, finds the schema current; DDL is transactional in PostgreSQL, so a crash
mid-upgrade leaves the version before it. Never edit a released migration: add one.
"""

from __future__ import annotations

T = 'TEXT COLLATE "C"'

MIGRATIONS: tuple[str, ...] = (
    # 1: everything the SQLite store has after its migration 13.
    f"""
    CREATE TABLE alerts (
        seq            BIGSERIAL PRIMARY KEY,
        id             {T} NOT NULL UNIQUE,
        sender         {T} NOT NULL,
        identifier     {T} NOT NULL,
        sent_utc       {T} NOT NULL,
        sent           {T} NOT NULL,
        status         {T} NOT NULL,
        msg_type       {T} NOT NULL,
        state          {T} NOT NULL,
        profile        {T} NOT NULL,
        authority      {T} NOT NULL,
        source_version {T} NOT NULL,
        content_hash   {T} NOT NULL,
        received_at    {T} NOT NULL,
        findings       {T} NOT NULL,
        superseded_by  {T} REFERENCES alerts(id),
        cancelled_by   {T} REFERENCES alerts(id),
        raw            BYTEA NOT NULL,
        signature      {T},
        UNIQUE (sender, identifier, sent_utc)
    );
    CREATE INDEX alerts_state ON alerts(state, seq);
    CREATE INDEX alerts_received ON alerts(received_at, seq);

    CREATE TABLE alert_references (
        alert_id     {T} NOT NULL REFERENCES alerts(id),
        position     INTEGER NOT NULL,
        sender       {T} NOT NULL,
        identifier   {T} NOT NULL,
        sent_utc     {T} NOT NULL,
        sent         {T} NOT NULL,
        resolved_id  {T} REFERENCES alerts(id),
        PRIMARY KEY (alert_id, position)
    );

    CREATE TABLE deliveries (
        alert_id           {T} NOT NULL REFERENCES alerts(id),
        channel            {T} NOT NULL,
        route              {T} NOT NULL,
        fallback_for       {T},
        state              {T} NOT NULL,
        attempts           INTEGER NOT NULL DEFAULT 0,
        idempotency_key    {T} NOT NULL UNIQUE,
        deadline           {T},
        updated_at         {T} NOT NULL,
        next_attempt_at    {T},
        replaced           {T},
        receipt            {T},
        last_error         {T},
        retry_requested_by {T},
        retry_requested_at {T},
        retry_base         INTEGER NOT NULL DEFAULT 0,
        fence              BIGINT NOT NULL DEFAULT 0,
        lease_node         {T},
        lease_expires      {T},
        rowid              BIGSERIAL NOT NULL UNIQUE,
        PRIMARY KEY (alert_id, channel)
    );
    CREATE INDEX deliveries_due ON deliveries(state, alert_id);
    CREATE INDEX deliveries_claimable ON deliveries(rowid)
        WHERE state IN ('pending', 'waiting_for_channel', 'sending');
    CREATE INDEX deliveries_lease ON deliveries(lease_node) WHERE state = 'sending';

    CREATE TABLE attempts (
        alert_id    {T} NOT NULL,
        channel     {T} NOT NULL,
        number      INTEGER NOT NULL,
        started_at  {T} NOT NULL,
        ended_at    {T} NOT NULL,
        outcome     {T} NOT NULL,
        reason      {T},
        error       {T},
        PRIMARY KEY (alert_id, channel, number),
        FOREIGN KEY (alert_id, channel) REFERENCES deliveries(alert_id, channel)
    );

    CREATE TABLE alert_variants (
        alert_id     {T} PRIMARY KEY REFERENCES alerts(id),
        variants     {T} NOT NULL,
        speech_state {T} NOT NULL,
        updated_at   {T} NOT NULL,
        rowid        BIGSERIAL NOT NULL UNIQUE
    );
    CREATE INDEX alert_variants_speech ON alert_variants(speech_state);
    CREATE TABLE alert_assets (
        alert_id    {T} NOT NULL REFERENCES alerts(id),
        name        {T} NOT NULL,
        kind        {T} NOT NULL,
        language    {T} NOT NULL,
        mime_type   {T} NOT NULL,
        size        BIGINT NOT NULL,
        sha256      {T} NOT NULL,
        duration_s  DOUBLE PRECISION,
        detail      {T} NOT NULL,
        created_at  {T} NOT NULL,
        PRIMARY KEY (alert_id, name)
    );

    CREATE TABLE subscribers (
        id          BIGSERIAL PRIMARY KEY,
        kind        {T} NOT NULL,
        address     {T} NOT NULL,
        language    {T},
        created_at  {T} NOT NULL,
        UNIQUE (kind, address)
    );
    CREATE TABLE subscriber_areas (
        subscriber_id BIGINT NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        lat         DOUBLE PRECISION,
        lon         DOUBLE PRECISION,
        value_name  {T},
        value       {T}
    );
    CREATE INDEX subscriber_areas_subscriber ON subscriber_areas(subscriber_id);
    CREATE INDEX subscriber_areas_geocode ON subscriber_areas(value_name, value, subscriber_id);
    CREATE TABLE recipient_outcomes (
        delivery_key  {T} NOT NULL,
        subscriber_id BIGINT NOT NULL,
        state         {T} NOT NULL,
        claim         {T},
        reference     {T},
        updated_at    {T} NOT NULL,
        PRIMARY KEY (delivery_key, subscriber_id)
    );

    CREATE TABLE wallet_subscriptions (
        seq        BIGSERIAL PRIMARY KEY,
        id         {T} NOT NULL UNIQUE,
        endpoint   {T} NOT NULL UNIQUE,
        p256dh     {T} NOT NULL,
        auth       {T} NOT NULL,
        country    {T},
        languages  {T},
        created_on {T} NOT NULL
    );
    CREATE TABLE wallet_push_results (
        delivery_key     {T} NOT NULL,
        subscription_seq BIGINT NOT NULL,
        outcome          {T} NOT NULL,
        reason           {T},
        PRIMARY KEY (delivery_key, subscription_seq)
    );

    CREATE TABLE recipient_messages (
        channel       {T} NOT NULL,
        message_id    {T} NOT NULL,
        delivery_key  {T} NOT NULL,
        subscriber_id BIGINT NOT NULL,
        state         {T} NOT NULL,
        created_at    {T} NOT NULL,
        PRIMARY KEY (channel, message_id)
    );
    CREATE INDEX recipient_messages_recipient
        ON recipient_messages(delivery_key, subscriber_id);

    CREATE TABLE audit_log (
        seq        BIGINT PRIMARY KEY,
        at         {T} NOT NULL,
        kind       {T} NOT NULL,
        via        {T} NOT NULL,
        authority  {T},
        key_id     {T},
        actor      {T},
        subject    {T},
        detail     {T} NOT NULL,
        prev_hash  {T} NOT NULL,
        hash       {T} NOT NULL
    );
    CREATE INDEX audit_log_at ON audit_log(at, seq);
    CREATE TABLE audit_head (
        one   INTEGER PRIMARY KEY CHECK (one = 1),
        seq   BIGINT NOT NULL,
        hash  {T} NOT NULL
    );
    INSERT INTO audit_head VALUES (1, 0,
        '0000000000000000000000000000000000000000000000000000000000000000');

    CREATE TABLE api_keys (
        id          {T} PRIMARY KEY,
        authority   {T} NOT NULL,
        name        {T} NOT NULL,
        roles       {T} NOT NULL,
        key_hash    {T} NOT NULL UNIQUE,
        created_at  {T} NOT NULL,
        revoked_at  {T}
    );
    CREATE TABLE approvals (
        alert_id        {T} PRIMARY KEY REFERENCES alerts(id),
        reason          {T} NOT NULL,
        submitted_by    {T} NOT NULL,
        submitted_at    {T} NOT NULL,
        expires_at      {T} NOT NULL,
        plan            {T} NOT NULL,
        deadline        {T},
        decision        {T},
        decided_by      {T},
        decided_at      {T},
        decision_reason {T}
    );
    CREATE INDEX approvals_open ON approvals(decision, expires_at);

    CREATE TABLE channel_state (
        channel     {T} NOT NULL,
        key         {T} NOT NULL,
        value       BYTEA NOT NULL,
        version     BIGINT NOT NULL,
        updated_at  {T} NOT NULL,
        PRIMARY KEY (channel, key)
    );
    """,  # noqa: S608  (fixed DDL: T is a type name)
    # 2: the SQLite store's migration 14 (the EDXL-DE envelope of a feed's alert).
    """
    ALTER TABLE alerts ADD COLUMN envelope BYTEA;
    """,
    # 3: the SQLite store's migration 15 (each asset's alert expiry, for pruning).
    f"""
    ALTER TABLE alert_assets ADD COLUMN expires_at {T};
    CREATE INDEX alert_assets_expires ON alert_assets(expires_at);
    """,
    # 4: the console's drafts (the SQLite store's migration 16).
    f"""
    CREATE TABLE drafts (
        id          {T} PRIMARY KEY,
        owner       {T} NOT NULL,
        authority   {T} NOT NULL,
        title       {T} NOT NULL,
        form        {T} NOT NULL,
        version     BIGINT NOT NULL,
        created_at  {T} NOT NULL,
        updated_at  {T} NOT NULL
    );
    CREATE INDEX drafts_owner ON drafts(owner, updated_at);
    """,
    # 5: the SQLite store's migration 17 (each alert's event texts, case-folded).
    f"""
    CREATE TABLE alert_events (
        alert_id    {T} NOT NULL REFERENCES alerts(id),
        event       {T} NOT NULL,
        PRIMARY KEY (event, alert_id)
    );
    CREATE INDEX audit_log_subject ON audit_log(subject, seq);
    """,
)

EVENTS_MIGRATION = 5
"""The migration after which ``router.store.migrations.backfill_events`` runs."""
