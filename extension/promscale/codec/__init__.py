"""Columnar codecs of the cold tier: one series' timestamps and values as bytes.

Pure NumPy (the server's Python has nothing else), vectorised end to end: no
Python loop runs per sample. ``timestamps`` encodes microsecond times with
delta-of-delta, ``values`` encodes float8 bit-exactly (decimal-scaled integers
or XOR), and ``_bytes`` holds the shared varint / byte-plane / compressor parts.
``series`` merges and deduplicates samples the way the SQL read path does. Both codecs
also have a ``RAW`` form (``encode_*_raw``, ``raw_*``): the values in PostgreSQL's binary
form, for rows that maintenance writes in a hurry and compacts later.
"""

from .series import SampleArrays, dedup_sorted, merge_samples
from .timestamps import decode_times, encode_times, encode_times_raw, raw_times, raw_times_payload
from .values import decode_values, encode_values, encode_values_raw, raw_values, raw_values_payload

__all__ = [
    "SampleArrays",
    "decode_times",
    "decode_values",
    "dedup_sorted",
    "encode_times",
    "encode_times_raw",
    "encode_values",
    "encode_values_raw",
    "merge_samples",
    "raw_times",
    "raw_times_payload",
    "raw_values",
    "raw_values_payload",
]
