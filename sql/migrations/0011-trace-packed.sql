-- Packed tier for closed trace partitions (docs/traces.md "Storage and retention"): once a
-- chunk has ended (plus a delay), ps_trace.pack_trace_partitions() moves its spans, events and
-- links into one row per trace in _ps_trace.span_packed (a deflate-compressed document using
-- a dictionary per chunk) and empties the chunk's row partitions. Late spans land in those
-- partitions again and are packed by the next run.
ALTER TABLE _ps_trace.chunk
    ADD COLUMN packed_at timestamptz,      -- when the chunk was first packed (NULL: never)
    ADD COLUMN pack_dictionary bytea;      -- the deflate preset dictionary of its packed rows

-- One row per trace and chunk (a second one when late spans of the trace were packed later).
-- Partitioned like the spans (by the row's first span start), one partition per packed chunk,
-- created by the packer with its own indexes (see 0010-trace-partition-indexes.sql for why).
CREATE TABLE _ps_trace.span_packed (
    trace_id uuid NOT NULL,
    start_time timestamptz NOT NULL,       -- earliest span start in the row
    max_start_time timestamptz NOT NULL,   -- latest span start in the row
    chunk_id bigint NOT NULL,              -- whose pack_dictionary decodes `data`
    span_count int NOT NULL,
    operation_ids bigint[] NOT NULL,       -- distinct operations of the row's spans (search filter)
    data bytea NOT NULL                    -- raw deflate of the spans, events and links (JSON)
) PARTITION BY RANGE (start_time);
COMMENT ON TABLE _ps_trace.span_packed IS
    'Packed spans of closed trace partitions, one row per trace; read them through the ps_trace views';
