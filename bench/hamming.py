"""The Hamming index at a million hashes: pgvector's HNSW `bit_hamming_ops` against multi-index hashing.

A table of 1,000,000 64-bit hashes, uniformly random (pHash bits are median-thresholded, so each bit is set about
half the time; real libraries also hold clusters, which only make multi-index hashing's buckets fuller), plus 200
query hashes with 5 planted neighbours each at distances spread over 0..threshold: the ground truth. Both indexes
answer "every hash within `threshold` bits of this one":

- HNSW: `ORDER BY phash <~> $1 LIMIT k` through `images_phash_hnsw`, then keep the rows within the threshold;
  approximate, so recall is measured (ef_search 40, the default, and 100).
- Multi-index hashing (Norouzi et al.): the 64 bits as four 16-bit chunks, each in a btree; by the pigeonhole
  principle a hash within t bits has some chunk within floor(t/4) bits, so the candidates are the rows whose chunk
  equals one of the chunk's variants, checked exactly with `bit_count`. Exact, recall 1 by construction.

Run alone: `python -m bench.hamming` (starts its own embedded PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from reactbin.embedded import EmbeddedPostgres

QUERIES = 200
PLANTED = 5
CHUNKS = 4
CHUNK_BITS = 16


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def chunk_variants(value: int, radius: int) -> list[int]:
    """Every 16-bit value within `radius` bits of `value`."""
    out = [value]
    for r in range(1, radius + 1):
        for bits in itertools.combinations(range(CHUNK_BITS), r):
            flipped = value
            for bit in bits:
                flipped ^= 1 << bit
            out.append(flipped)
    return out


def chunks_of(value: int) -> list[int]:
    return [(value >> (CHUNK_BITS * (CHUNKS - 1 - i))) & 0xFFFF for i in range(CHUNKS)]


@dataclass(frozen=True)
class IndexResult:
    method: str
    recall: float
    median_ms: float
    p99_ms: float
    candidates: float
    """Rows read per query (HNSW: rows returned before the distance filter)."""
    build_seconds: float
    size_mb: float


_SETUP = """
CREATE EXTENSION IF NOT EXISTS vector;
DROP TABLE IF EXISTS hamming_bench;
CREATE TABLE hamming_bench (id integer PRIMARY KEY, h bigint NOT NULL, phash bit(64) NOT NULL,
                            c0 integer NOT NULL, c1 integer NOT NULL, c2 integer NOT NULL, c3 integer NOT NULL)
"""


async def _run(
    dsn: str, count: int, threshold: int, log: Callable[[str], None], skip_hnsw: bool = False
) -> list[IndexResult]:
    conn = await asyncpg.connect(dsn, command_timeout=None)
    try:
        await conn.execute(_SETUP)
        await conn.execute("SET maintenance_work_mem = '1GB'")
        rng = random.Random(17)
        started = time.monotonic()
        await conn.execute(
            """
            INSERT INTO hamming_bench (id, h, phash, c0, c1, c2, c3)
            SELECT g, v, v::bit(64), (v >> 48) & 65535, (v >> 32) & 65535, (v >> 16) & 65535, v & 65535
            FROM (SELECT g, (floor(random() * 4294967296)::bigint << 32) | floor(random() * 4294967296)::bigint AS v
                  FROM generate_series(1, $1::int) g) s
            """,
            count,
        )
        queries: list[int] = []
        planted: dict[int, set[int]] = {}
        rows = []
        next_id = count + 1
        for _ in range(QUERIES):
            query = rng.getrandbits(64)
            queries.append(query)
            ids = set()
            for k in range(PLANTED):
                distance = round(k * threshold / (PLANTED - 1))
                value = query
                for bit in rng.sample(range(64), distance):
                    value ^= 1 << bit
                rows.append((next_id, _signed(value), *chunks_of(value)))
                ids.add(next_id)
                next_id += 1
            planted[query] = ids
        await conn.executemany(
            """INSERT INTO hamming_bench (id, h, phash, c0, c1, c2, c3)
               VALUES ($1, $2::bigint, ($2::bigint)::bit(64), $3, $4, $5, $6)""",
            rows,
        )
        log(f"{count + len(rows):,} hashes loaded in {time.monotonic() - started:.0f} s")
        results: list[IndexResult] = []

        # Multi-index hashing.
        started = time.monotonic()
        for i in range(CHUNKS):
            await conn.execute(f"CREATE INDEX hamming_bench_c{i} ON hamming_bench (c{i})")
        await conn.execute("ANALYZE hamming_bench")
        mih_build = time.monotonic() - started
        mih_size = await conn.fetchval(
            "SELECT sum(pg_relation_size(c.oid)) / 1e6 FROM pg_class c WHERE c.relname LIKE 'hamming_bench_c%'"
        )
        radius = threshold // CHUNKS
        mih_sql = (
            "SELECT id, bit_count(phash # $1::bit(64)) AS d FROM hamming_bench WHERE ("  # noqa: S608 (constants)
            + " OR ".join(f"c{i} = ANY(${i + 2}::integer[])" for i in range(CHUNKS))
            + f") AND bit_count(phash # $1::bit(64)) <= {threshold}"
        )
        candidates_sql = (
            "SELECT count(*) FROM hamming_bench WHERE "  # noqa: S608 (constants)
            + " OR ".join(f"c{i} = ANY(${i + 1}::integer[])" for i in range(CHUNKS))
        )
        times, found, candidates = [], 0, []
        for query in queries:
            variants = [chunk_variants(c, radius) for c in chunks_of(query)]
            bits = format(query, "064b")
            begun = time.perf_counter()
            hits = await conn.fetch(mih_sql, asyncpg.BitString(bits), *variants)
            times.append(time.perf_counter() - begun)
            found += len(planted[query] & {r["id"] for r in hits})
            candidates.append(await conn.fetchval(candidates_sql, *variants))
        results.append(
            IndexResult(
                f"multi-index hashing, 4 x 16-bit btrees, chunk radius {radius}",
                found / (QUERIES * PLANTED),
                statistics.median(times) * 1000,
                _p99(times) * 1000,
                statistics.mean(candidates),
                mih_build,
                float(mih_size),
            )
        )
        log(results[-1].method + f": {results[-1]}")

        # The same with covering indexes (the hash in each chunk index) and one index-only scan per chunk: only the
        # rows within the threshold are read from the table.
        started = time.monotonic()
        for i in range(CHUNKS):
            await conn.execute(f"DROP INDEX hamming_bench_c{i}")
            await conn.execute(f"CREATE INDEX hamming_bench_c{i} ON hamming_bench (c{i}) INCLUDE (phash)")
        await conn.execute("VACUUM ANALYZE hamming_bench")
        covering_build = time.monotonic() - started
        covering_size = await conn.fetchval(
            "SELECT sum(pg_relation_size(c.oid)) / 1e6 FROM pg_class c WHERE c.relname LIKE 'hamming_bench_c%'"
        )
        covering_sql = " UNION ".join(
            f"SELECT id FROM hamming_bench WHERE c{i} = ANY(${i + 2}::integer[]) "  # noqa: S608
            f"AND bit_count(phash # $1::bit(64)) <= {threshold}"
            for i in range(CHUNKS)
        )
        times, found = [], 0
        for query in queries:
            variants = [chunk_variants(c, radius) for c in chunks_of(query)]
            begun = time.perf_counter()
            hits = await conn.fetch(covering_sql, asyncpg.BitString(format(query, "064b")), *variants)
            times.append(time.perf_counter() - begun)
            found += len(planted[query] & {r["id"] for r in hits})
        results.append(
            IndexResult(
                f"multi-index hashing, 4 x 16-bit covering btrees (INCLUDE the hash), index-only, radius {radius}",
                found / (QUERIES * PLANTED),
                statistics.median(times) * 1000,
                _p99(times) * 1000,
                statistics.mean(candidates),
                covering_build,
                float(covering_size),
            )
        )
        log(results[-1].method + f": {results[-1]}")
        if skip_hnsw:
            await conn.execute("DROP TABLE hamming_bench")
            return results

        # HNSW.
        started = time.monotonic()
        await conn.execute("SET max_parallel_maintenance_workers = 1")
        await conn.execute("CREATE INDEX hamming_bench_hnsw ON hamming_bench USING hnsw (phash bit_hamming_ops)")
        hnsw_build = time.monotonic() - started
        hnsw_size = await conn.fetchval("SELECT pg_relation_size('hamming_bench_hnsw') / 1e6")
        log(f"HNSW built in {hnsw_build:.0f} s")
        for ef, limit in ((40, 20), (100, 20), (100, 50)):
            await conn.execute(f"SET hnsw.ef_search = {ef}")
            sql = f"""SELECT id, d FROM (SELECT id, phash <~> $1::bit(64) AS d FROM hamming_bench
                      ORDER BY phash <~> $1::bit(64) LIMIT {limit}) n WHERE d <= {threshold}"""  # noqa: S608
            times, found = [], 0
            for query in queries:
                bits = asyncpg.BitString(format(query, "064b"))
                begun = time.perf_counter()
                hits = await conn.fetch(sql, bits)
                times.append(time.perf_counter() - begun)
                found += len(planted[query] & {r["id"] for r in hits})
            results.append(
                IndexResult(
                    f"HNSW bit_hamming_ops (m 16, ef_construction 64), ef_search {ef}, LIMIT {limit}",
                    found / (QUERIES * PLANTED),
                    statistics.median(times) * 1000,
                    _p99(times) * 1000,
                    float(limit),
                    hnsw_build,
                    float(hnsw_size),
                )
            )
            log(results[-1].method + f": {results[-1]}")
        await conn.execute("DROP TABLE hamming_bench")
    finally:
        await conn.close()
    return results


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(
    dsn: str, count: int, threshold: int, log: Callable[[str], None] = print, *, skip_hnsw: bool = False
) -> list[IndexResult]:
    return asyncio.run(_run(dsn, count, threshold, log, skip_hnsw))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hamming", description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--threshold", type=int, default=10)
    parser.add_argument("--skip-hnsw", action="store_true", help="multi-index hashing only (HNSW takes ~16 min)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reactbin-hamming-", dir="/tmp") as tmp:
        Path(tmp).chmod(0o755)
        postgres = EmbeddedPostgres(Path(tmp) / "postgres", durable=False)
        postgres.start()
        try:
            for r in measure(postgres.dsn, args.count, args.threshold, skip_hnsw=args.skip_hnsw):
                print(
                    f"{r.method}: recall {r.recall:.1%}, median {r.median_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, "
                    f"{r.candidates:,.0f} rows read per query, built in {r.build_seconds:.0f} s, {r.size_mb:.0f} MB"
                )
        finally:
            postgres.stop()


if __name__ == "__main__":
    main()
