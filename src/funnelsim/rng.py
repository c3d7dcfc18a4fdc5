"""Random streams: one seed per run, independent named streams per replication.

A comparison of two plans is only sharp when both see the same leads: the same arrival times,
the same work times, the same patience. So every random quantity comes from a stream named
after what it drives ("arrivals/web", "work/sdr/web", ...), derived from the run's seed, the
replication number and the name alone. Changing one part of the funnel (adding a source, say)
never reshuffles the numbers of another. There is no global random state anywhere.
"""

from __future__ import annotations

import hashlib

import numpy as np


def normalise_seed(seed: int | None) -> int:
    """The run's seed as a non-negative integer; ``None`` draws fresh entropy from the OS."""
    if seed is None:
        entropy = np.random.SeedSequence().entropy
        assert isinstance(entropy, int)
        return entropy
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return seed


def _name_key(name: str) -> int:
    """A stable 32-bit number for a stream name (Python's hash() changes between processes)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "little")


class Streams:
    """The named random streams of one replication of one run."""

    def __init__(self, seed: int, replication: int) -> None:
        self.seed = seed
        self.replication = replication
        self._keys: dict[str, np.ndarray] = {}
        self._hash_keys: dict[str, bytes] = {}

    def generator(self, name: str) -> np.random.Generator:
        """A fresh generator for ``name``; the same (seed, replication, name) gives the same one."""
        sequence = np.random.SeedSequence(
            entropy=self.seed, spawn_key=(self.replication, _name_key(name))
        )
        return np.random.Generator(np.random.PCG64(sequence))

    def uniform_for(self, name: str, key: int) -> float:
        """One uniform number in [0, 1) of ``name`` for ``key`` (a lead, say), the same whenever
        it is asked for: a keyed BLAKE2 hash of ``key``, about a microsecond, where making a
        generator costs twenty. For a decision every lead may need, without a column of numbers
        held for every lead."""
        secret = self._hash_keys.get(name)
        if secret is None:
            secret = self._hash_keys[name] = (
                np.random.SeedSequence(
                    entropy=self.seed, spawn_key=(self.replication, _name_key(name))
                )
                .generate_state(4, np.uint32)
                .tobytes()
            )
        digest = hashlib.blake2b(key.to_bytes(8, "little"), digest_size=8, key=secret).digest()
        return (int.from_bytes(digest, "little") >> 11) * 2.0**-53

    def for_lead(self, name: str, lead: int) -> np.random.Generator:
        """A generator of ``name``'s numbers for one lead, the same whenever it is made.

        For steps few leads reach (a booked meeting, an AE's review of an SQL), drawn when the
        step happens instead of for every lead up front: a counter-based generator (Philox)
        keyed by the stream and counting from the lead's number, so the lead gets the same
        numbers in whatever order the steps happen, and in every plan that shares the stream.
        """
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = np.random.SeedSequence(
                entropy=self.seed, spawn_key=(self.replication, _name_key(name))
            ).generate_state(2, np.uint64)
        return np.random.Generator(np.random.Philox(counter=[0, 0, 0, lead], key=key))
