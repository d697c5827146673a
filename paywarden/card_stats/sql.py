"""The rollup's definition, and the SQL generated from it: the database triggers that keep
`card_stats` in step with every write, and the rebuild that recomputes it from the rows.

One definition serves both, so a rebuild equals what the triggers accumulated (a test holds
them to it on SQLite and PostgreSQL). Triggers, not Python hooks: an ORM change, a bulk UPDATE
(codes expired by the worker) and a future write path are all counted, in the writer's own
transaction, with no call a service could forget.

A source row contributes to one or more *facets*: each facet has a time column (its 15-minute
UTC bucket; `None` for a stock figure kept in bucket 0) and measures, SQL expressions over the
row. An UPDATE adds the new row's contribution and subtracts the old one's; rows whose
contribution nets to zero write nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BUCKET_SECONDS = 900  # 15 minutes: every real time zone's offset is a multiple of it
STOCK_BUCKET = 0  # the row of figures that are a state, not a flow (active cards, pending)
PG_SHARDS = 8  # concurrent writers spread over this many rows per bucket (by backend pid)

SPENT = "('approved', 'settled', 'refunded')"
APPROVED = "('approved', 'settled', 'reversed', 'refunded', 'expired')"
FX_FEE_KINDS = "('fx', 'card_spend', 'card_refund')"
TOPUP_FEE_KINDS = "('topup', 'topup_fee')"
FEES = "a.code = 'fee_revenue'"  # fee revenue, by the kind of transaction that earned it


def _when(condition: str, value: str = "1") -> str:
    return f"CASE WHEN {condition} THEN {value} ELSE 0 END"


def _declined(reason_condition: str) -> str:
    return _when(f"{{r}}.status = 'declined' AND {reason_condition}")


@dataclass(frozen=True)
class Facet:
    time: str | None  # the row's column whose bucket the measures land in; None: stock
    measures: dict[str, str]  # column of card_stats -> SQL over the row ({r}), t and a joins
    when: str = "1 = 1"  # which rows contribute at all


@dataclass(frozen=True)
class Source:
    table: str
    facets: tuple[Facet, ...]
    # For rows that need their neighbours (a posting's transaction kind and account):
    joins: tuple[tuple[str, str, str], ...] = ()  # (table, alias, condition over {r})
    insert_only: bool = False  # append-only tables fire on INSERT alone
    extra: dict[str, str] = field(default_factory=dict)


SOURCES: tuple[Source, ...] = (
    Source(
        "cards",
        (
            Facet("created_at", {"cards_created": "1"}),
            Facet(
                "closed_at",
                {"cards_closed": "1"},
                when="{r}.status = 'closed' AND {r}.closed_at IS NOT NULL",
            ),
            Facet(
                None,
                {"cards_active": "1", "cards_active_limit": "{r}.monthly_limit"},
                when="{r}.status = 'active'",
            ),
        ),
    ),
    Source(
        "card_transactions",
        (
            Facet(
                "created_at",
                {
                    "tx_approved": _when(f"{{r}}.status IN {APPROVED}"),
                    "tx_declined": _when("{r}.status = 'declined'"),
                    "declined_insufficient_funds": _declined(
                        "{r}.decline_reason = 'insufficient_funds'"
                    ),
                    "declined_do_not_honor": _declined("{r}.decline_reason = 'do_not_honor'"),
                    "declined_3ds": _declined("{r}.decline_reason = '3ds_failed'"),
                    "declined_other": _declined(
                        "({r}.decline_reason IS NULL OR {r}.decline_reason NOT IN"
                        " ('insufficient_funds', 'do_not_honor', '3ds_failed'))"
                    ),
                    "spend_amount": _when(
                        f"{{r}}.status IN {SPENT}",
                        "COALESCE({r}.settled_amount, {r}.amount) - {r}.refunded_amount",
                    ),
                    "spend_count": _when(f"{{r}}.status IN {SPENT}"),
                },
            ),
            Facet(
                None,
                {"pending_amount": "{r}.amount", "pending_count": "1"},
                when="{r}.status = 'approved'",
            ),
        ),
    ),
    Source(
        "codes_3ds",
        (
            Facet(
                "created_at",
                {
                    "codes_requested": "1",
                    "codes_used": _when("{r}.status = 'used'"),
                    "codes_expired": _when("{r}.status = 'expired'"),
                    "codes_declined": _when("{r}.status = 'declined'"),
                },
            ),
        ),
    ),
    Source(
        "ledger_postings",
        (
            Facet(
                "created_at",
                {
                    "topup_amount": _when("a.kind = 'client' AND t.kind = 'topup'", "{r}.amount"),
                    "topup_count": _when("a.kind = 'client' AND t.kind = 'topup'"),
                    "fee_topup": _when(f"{FEES} AND t.kind IN {TOPUP_FEE_KINDS}", "{r}.amount"),
                    "fee_fx": _when(f"{FEES} AND t.kind IN {FX_FEE_KINDS}", "{r}.amount"),
                    "fee_card": _when(
                        f"{FEES} AND t.kind NOT IN {TOPUP_FEE_KINDS}"
                        f" AND t.kind NOT IN {FX_FEE_KINDS}",
                        "{r}.amount",
                    ),
                },
                # Wallet credits of a top-up, and every movement of fee revenue.
                when=(
                    "{r}.currency IN ('EUR', 'USD') AND ("
                    "(a.kind = 'client' AND t.kind = 'topup' AND {r}.amount > 0)"
                    " OR a.code = 'fee_revenue')"
                ),
            ),
        ),
        joins=(
            ("ledger_transactions", "t", "t.id = {r}.transaction_id"),
            ("ledger_accounts", "a", "a.id = {r}.account_id"),
        ),
        insert_only=True,
    ),
)

MEASURES: tuple[str, ...] = tuple(
    dict.fromkeys(m for s in SOURCES for f in s.facets for m in f.measures)
)


def bucket_sql(column: str, dialect: str) -> str:
    """The epoch second starting the column's 15-minute UTC bucket."""
    if dialect == "postgresql":
        return (
            f"(floor(extract(epoch from {column}) / {BUCKET_SECONDS}) * {BUCKET_SECONDS})::bigint"
        )
    # SQLite keeps UTC as text; strftime('%s') reads it (fractions included) as epoch seconds.
    return f"((CAST(strftime('%s', {column}) AS INTEGER) / {BUCKET_SECONDS}) * {BUCKET_SECONDS})"


def _shard(dialect: str) -> str:
    # One connection writes one shard, so a transaction never takes two shards of a row (no
    # lock-order deadlock between writers); SQLite has one writer anyway.
    return f"(pg_backend_pid() % {PG_SHARDS})" if dialect == "postgresql" else "0"


def _contribution(source: Source, facet: Facet, row: str, sign: str, dialect: str) -> str:
    """One SELECT yielding (bucket, currency, measures…) of `row` (NEW, OLD or an alias)."""

    def on(sql: str) -> str:
        return sql.replace("{r}", row)

    bucket = str(STOCK_BUCKET) if facet.time is None else bucket_sql(f"{row}.{facet.time}", dialect)
    measures = ", ".join(f"{sign}({on(facet.measures[m])}) AS {m}" for m in facet.measures)
    tables = ", ".join(f"{table} {alias}" for table, alias, _ in source.joins)
    where = [on(cond) for _, _, cond in source.joins] + [on(facet.when)]
    from_ = f" FROM {tables}" if tables else ""
    return (
        f"SELECT {bucket} AS bucket, {row}.currency AS currency, {measures}{from_}"
        f" WHERE {' AND '.join(where)}"
    )


def _upsert(facet: Facet, selects: list[str], shard: str) -> str:
    columns = list(facet.measures)
    sums = ", ".join(f"SUM({m})" for m in columns)
    nonzero = " OR ".join(f"SUM({m}) <> 0" for m in columns)
    updates = ", ".join(f"{m} = card_stats.{m} + excluded.{m}" for m in columns)
    union = " UNION ALL ".join(selects)
    # Built from this module's constants only, never from input.
    head = f"INSERT INTO card_stats (bucket, currency, shard, {', '.join(columns)}) "
    return (
        head + f"SELECT bucket, currency, {shard}, {sums} FROM ({union}) AS d "  # noqa: S608
        f"WHERE 1 = 1 GROUP BY bucket, currency HAVING {nonzero} "
        f"ON CONFLICT (bucket, currency, shard) DO UPDATE SET {updates}"
    )


def _statements(source: Source, op: str, dialect: str) -> list[str]:
    out = []
    for facet in source.facets:
        selects = []
        if op in ("INSERT", "UPDATE"):
            selects.append(_contribution(source, facet, "NEW", "", dialect))
        if op in ("UPDATE", "DELETE"):
            selects.append(_contribution(source, facet, "OLD", "-", dialect))
        out.append(_upsert(facet, selects, _shard(dialect)))
    return out


def _ops(source: Source) -> tuple[str, ...]:
    return ("INSERT",) if source.insert_only else ("INSERT", "UPDATE", "DELETE")


def install(dialect: str) -> list[str]:
    """DDL creating every rollup trigger on `dialect` ("postgresql" or "sqlite")."""
    ddl: list[str] = []
    for source in SOURCES:
        name = f"card_stats_{source.table}"
        if dialect == "postgresql":
            branches = []
            for op in _ops(source):
                body = ";\n    ".join(_statements(source, op, dialect))
                branches.append(f"IF TG_OP = '{op}' THEN\n    {body};\n  END IF;")
            ddl.append(
                f"CREATE FUNCTION {name}() RETURNS trigger AS $$\nBEGIN\n  "
                + "\n  ".join(branches)
                + "\n  RETURN NULL;\nEND\n$$ LANGUAGE plpgsql"
            )
            ddl.append(
                f"CREATE TRIGGER {name} AFTER {' OR '.join(_ops(source))} ON {source.table}"
                f" FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        else:
            for op in _ops(source):
                body = ";\n  ".join(_statements(source, op, dialect))
                ddl.append(
                    f"CREATE TRIGGER {name}_{op.lower()} AFTER {op} ON {source.table}"
                    f" FOR EACH ROW BEGIN\n  {body};\nEND"
                )
    return ddl


def uninstall(dialect: str) -> list[str]:
    ddl: list[str] = []
    for source in SOURCES:
        name = f"card_stats_{source.table}"
        if dialect == "postgresql":
            ddl.append(f"DROP TRIGGER IF EXISTS {name} ON {source.table}")
            ddl.append(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            ddl.extend(f"DROP TRIGGER IF EXISTS {name}_{op.lower()}" for op in _ops(source))
    return ddl


def rebuild(dialect: str) -> list[str]:
    """Statements that empty `card_stats` and recompute it from the rows (into shard 0)."""
    statements = ["DELETE FROM card_stats"]
    for source in SOURCES:
        for facet in source.facets:
            select = _contribution(source, facet, "r", "", dialect)
            select = select.replace(" FROM ", f" FROM {source.table} r, ", 1)
            if " FROM " not in select:
                select = select.replace(" WHERE ", f" FROM {source.table} r WHERE ", 1)
            statements.append(_upsert(facet, [select], "0"))
    return statements
