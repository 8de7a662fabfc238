"""How one vendor's sleep records become nights, one per wake date (docs/readiness.md#canonical-days).

Per source (``sourceName``), records less than :data:`BLOCK_GAP` apart form a block whose asleep time
is the union of its asleep stages minus that source's Awake, so overlapping or duplicated records
never count twice. Naps (asleep < 3 h, ending 10:00–20:00 local) are dropped. Blocks of all sources
whose in-bed windows overlap are one sleep episode, in which one source wins and sources are never
summed: a source with stages (Core/Deep/REM, i.e. the Watch) unless it saw less than half the sleep of
the longest one (a Watch that ran flat), else the longest asleep time. The episode belongs to the
local date, in the records' own UTC offset, on which the winner's last asleep interval ends (the wake
date); of two episodes waking on one date the longer is the night. Bedtime is known only when an
InBed record says when it was: the winner's own, else another source's that overlaps the winner's
sleep (the Watch writes no InBed; the iPhone's sleep schedule or a sleep app does), of the measured
and the hand-entered records each apart (:meth:`SleepNights._with_bedtime`); never made up from the
asleep span, which would make any hand-entered night 100 % efficient. ``Night.wakes`` counts
interruptions between asleep intervals that are marked Awake or last ≥ 5 min.

Pure: no database, no HTTP.
"""

from __future__ import annotations

import array
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt

from perfhub.wearables.apple.errors import shown
from perfhub.wearables.apple.intervals import Interval, local_day, subtract, union

MAX_SLEEP_MIN = 1440.0
BLOCK_GAP = 3600  # s; a longer silence inside one source's records ends a sleep block
MAX_BLOCK_SPAN = 2 * 86400  # s; a block longer than this cannot hold a night of at most MAX_SLEEP_MIN
NAP_MAX_ASLEEP = 3 * 3600
NAP_END_WINDOW = (10 * 3600, 20 * 3600)  # local seconds of day
WAKE_GAP = 300  # an unlabelled gap this long between asleep intervals counts as a wake
STAGED_MIN_SHARE = 0.5


IN_BED, _AWAKE, _ASLEEP, _CORE, _DEEP, _REM = range(6)
STAGES = {
    "HKCategoryValueSleepAnalysisInBed": IN_BED,
    "HKCategoryValueSleepAnalysisAwake": _AWAKE,
    "HKCategoryValueSleepAnalysisAsleepUnspecified": _ASLEEP,
    "HKCategoryValueSleepAnalysisAsleep": _ASLEEP,  # exports from before iOS 16
    "HKCategoryValueSleepAnalysisAsleepCore": _CORE,
    "HKCategoryValueSleepAnalysisAsleepDeep": _DEEP,
    "HKCategoryValueSleepAnalysisAsleepREM": _REM,
}


_Block = npt.NDArray[np.intp]  # indexes into one source's SleepColumns, by start


@dataclass(frozen=True, slots=True)
class Night:
    source: str
    wake_date: date
    wake: int  # epoch of the end of the last asleep interval
    wake_offset: int
    asleep: int  # seconds
    in_bed_start: int  # the window the night is grouped, checked and given its SDNN by
    in_bed_end: int
    asleep_start: int  # epoch of the start of the first asleep interval
    wakes: int
    staged: bool
    # From InBed records (widened to cover the asleep time): when bedtime was and when the athlete
    # got up. None when no InBed record says so.
    bed: Interval | None


# A source's block as a night in the making: in-bed window, source, its records, what they give.
_Candidate = tuple[int, int, str, _Block, Night]


class SleepColumns:
    """One source's sleep records as compact columns (tens of thousands of records for years of data)."""

    __slots__ = ("end", "offset", "stage", "start")

    def __init__(self) -> None:
        self.start = array.array("q")
        self.end = array.array("q")
        self.offset = array.array("i")  # UTC offset of the end date
        self.stage = array.array("b")


class SleepNights:
    """One vendor's sleep records by source, and the nights they make."""

    def __init__(self, skip: Callable[[str], None]) -> None:
        self.skip = skip
        self._sleep: dict[str, SleepColumns] = {}

    def add(self, source: str, start: int, end: int, end_offset: int, stage: int) -> None:
        columns = self._sleep.get(source)
        if columns is None:
            columns = self._sleep[source] = SleepColumns()
        columns.start.append(start)
        columns.end.append(end)
        columns.offset.append(end_offset)
        columns.stage.append(stage)

    def nights(self) -> dict[date, Night]:
        # Blocks of every source, naps dropped; overlapping in-bed windows (any source) form one
        # sleep episode, so a source's fragment (a Watch that ran flat at 23:40) is never dated on
        # its own but competes inside the episode it belongs to.
        # Streamed: each source's blocks come in order of their in-bed windows, merged across sources,
        # and only the episode at hand is held, so memory does not grow with the number of blocks
        # (one per record, in a hostile file of isolated records).
        merged = heapq.merge(
            *(self._source_blocks(source, columns) for source, columns in self._sleep.items()),
            key=lambda b: (b[0], b[1], b[2]),
        )
        chosen: dict[date, Night] = {}
        episode: list[_Candidate] = []
        episode_start = episode_end = 0
        overlong = False

        def settle() -> None:
            if overlong:
                began = datetime.fromtimestamp(episode_start, UTC).strftime("%Y-%m-%d %H:%M UTC")
                hours = (episode_end - episode_start) / 3600
                self.skip(f"sleep from {began}: {hours:.0f} h of overlapping records is not a night")
                return
            night = self._choose(episode)
            # Two separate episodes waking on one date (split sleep): the longer is the main sleep.
            if night is not None and (
                night.wake_date not in chosen or night.asleep > chosen[night.wake_date].asleep
            ):
                chosen[night.wake_date] = night

        for block_info in merged:
            if (episode or overlong) and block_info[0] <= episode_end:
                episode_end = max(episode_end, block_info[1])
                # An episode is never more than MAX_BLOCK_SPAN long in real data; held beyond that it
                # would grow with a chain of overlapping records as long as the file.
                if episode_end - episode_start > MAX_BLOCK_SPAN:
                    overlong, episode = True, []
                elif not overlong:
                    episode.append(block_info)
                continue
            if episode or overlong:
                settle()
            episode, overlong = [block_info], False
            episode_start, episode_end = block_info[0], block_info[1]
        if episode or overlong:
            settle()
        if not chosen:
            return chosen
        in_bed = self._in_bed_by_source()
        return {day: self._with_bedtime(night, in_bed) for day, night in chosen.items()}

    def _in_bed_by_source(self) -> dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """Each source's InBed records merged (overlapping or touching ones as one): starts and ends,
        sorted, 16 bytes an interval."""
        found: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
        for source, columns in self._sleep.items():
            in_bed = np.frombuffer(columns.stage, dtype=np.int8) == IN_BED
            if not in_bed.any():
                continue
            start = np.frombuffer(columns.start, dtype=np.int64)[in_bed]
            end = np.frombuffer(columns.end, dtype=np.int64)[in_bed]
            order = np.lexsort((end, start))
            start, reach = start[order], np.maximum.accumulate(end[order])
            first = np.concatenate(([True], start[1:] > reach[:-1]))
            last = np.concatenate((first[1:], [True]))
            found[source] = (start[first], reach[last])
        return found

    def _with_bedtime(
        self, night: Night, in_bed: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]
    ) -> Night:
        """The night with a bedtime from another source's InBed records when it has none of its own.

        What is asked is only that efficiency and latency come from an InBed record saying when
        bedtime was, never from the asleep span. Which source says it does not matter for that: an
        Apple Watch writes no InBed at all, and the iPhone's sleep schedule or a sleep app writes it
        for the same night, so taking only the winner's own gave a Watch user no efficiency ever.
        The winner's own InBed still comes first (its asleep time and its bedtime then come from one
        device), then the source whose InBed overlaps most of the winner's sleep, then, between equal
        ones, the shortest window, which adds the least time in bed the sleep itself does not show.
        Sources of this vendor only: a night typed in by hand never takes a device's bedtime nor the
        reverse (a 10-hour hand-entered night without InBed stays without efficiency). A window over
        MAX_SLEEP_MIN (an InBed left running for days) says nothing about this night and is not used.
        """
        if night.bed is not None:
            return night
        first, wake = night.asleep_start, night.wake
        best: tuple[tuple[int, int, str], Interval] | None = None
        for source, (starts, ends) in in_bed.items():
            if source == night.source:
                continue
            lo = int(np.searchsorted(ends, first, "right"))  # the first that ends after sleep starts
            hi = int(np.searchsorted(starts, wake, "left"))  # the first that starts at or after waking
            if lo >= hi:
                continue
            covered = int((np.minimum(ends[lo:hi], wake) - np.maximum(starts[lo:hi], first)).sum())
            bed = (min(int(starts[lo]), first), max(int(ends[hi - 1]), wake))
            key = (covered, first - bed[0] - (bed[1] - wake), source)
            if best is None or key > best[0]:
                best = (key, bed)
        if best is None or best[1][1] - best[1][0] > MAX_SLEEP_MIN * 60:
            return night
        return replace(night, bed=best[1])

    def _source_blocks(self, source: str, columns: SleepColumns) -> Iterator[_Candidate]:
        """One source's blocks that are nights or could be (naps left out), by in-bed window: a block
        starts after the previous one's last record ends, and its in-bed window lies within it."""
        for block, first, last in _blocks(columns):
            if last - first > MAX_BLOCK_SPAN:
                # Never a night (asleep or in bed over MAX_SLEEP_MIN), and read whole it would cost a
                # tuple per record: a file of one-minute records without a break is one block.
                began = datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%d %H:%M UTC")
                self.skip(
                    f"sleep from {shown(source)} from {began}: {(last - first) / 3600:.0f} h without "
                    "a break of an hour is not a night"
                )
                continue
            night = _night(source, columns, block.tolist())
            if night is not None and not _is_nap(night):
                yield night.in_bed_start, night.in_bed_end, source, block, night

    def _choose(self, episode: list[_Candidate]) -> Night | None:
        per_source: dict[str, list[tuple[_Block, Night]]] = {}
        for _, _, source, block, night in episode:
            per_source.setdefault(source, []).append((block, night))
        nights: list[Night] = []
        for source, parts in per_source.items():
            if len(parts) == 1:
                night = parts[0][1]
            else:  # one source's blocks bridged by another source: one night of that source
                merged = _night(source, self._sleep[source], np.concatenate([b for b, _ in parts]).tolist())
                assert merged is not None
                night = merged
            asleep_min = night.asleep / 60
            in_bed_min = (night.in_bed_end - night.in_bed_start) / 60
            if asleep_min > MAX_SLEEP_MIN or in_bed_min > MAX_SLEEP_MIN:
                longest = max(asleep_min, in_bed_min)
                limit = f"{MAX_SLEEP_MIN:.0f}"
                self.skip(
                    f"sleep ending {night.wake_date} from {shown(source)}: {longest:.0f} min is over {limit}"
                )
                continue
            nights.append(night)
        if not nights:
            return None
        longest_asleep = max(n.asleep for n in nights)
        return max(
            nights,
            key=lambda n: (n.staged and n.asleep >= STAGED_MIN_SHARE * longest_asleep, n.asleep, n.source),
        )


def _blocks(columns: SleepColumns) -> Iterator[tuple[_Block, int, int]]:
    """A source's records in blocks (a gap over BLOCK_GAP ends one), each with where it starts and ends.

    Sorted in numpy: 8 bytes an index where Python's sort by (start, end) tuples took over 150 bytes
    a record, which for a hostile file of a million records was the whole of the import's memory.
    """
    # Views, not copies: the columns are complete by now and are never appended to again.
    start = np.frombuffer(columns.start, dtype=np.int64)
    end = np.frombuffer(columns.end, dtype=np.int64)
    order = np.lexsort((end, start))
    if not len(order):
        return
    # Sorted by start, a block's end so far is the running maximum of ends, and at a break every
    # earlier record has ended, so the running maximum over all records is the block's own.
    reach = end[order]
    np.maximum.accumulate(reach, out=reach)
    breaks = np.flatnonzero(start[order[1:]] > reach[:-1] + BLOCK_GAP) + 1
    # Only the order and the breaks outlive this (16 bytes a record at most): the blocks are yielded
    # while other sources' are merged in, so whatever is kept here is kept for every source at once.
    del reach
    lo = 0
    for hi in itertools.chain((int(b) for b in breaks), (len(order),)):
        block = order[lo:hi]
        yield block, int(start[block[0]]), int(end[block].max())
        lo = hi


def _night(source: str, columns: SleepColumns, block: list[int]) -> Night | None:
    asleep_raw: list[Interval] = []
    awake_raw: list[Interval] = []
    in_bed_raw: list[Interval] = []
    staged = False
    for i in block:
        stage = columns.stage[i]
        interval = (columns.start[i], columns.end[i])
        if stage == IN_BED:
            in_bed_raw.append(interval)
        elif stage == _AWAKE:
            awake_raw.append(interval)
        else:
            asleep_raw.append(interval)
            staged = staged or stage in (_CORE, _DEEP, _REM)
    awake = union(awake_raw)
    # Within one source an Awake record overrides an asleep one it overlaps (third-party apps write both).
    asleep = subtract(union(asleep_raw), awake)
    if not asleep:
        return None
    wake = asleep[-1][1]
    last = max(block, key=lambda i: (columns.end[i] <= wake, columns.end[i]))
    wake_offset = columns.offset[last]
    block_start = min(columns.start[i] for i in block)
    block_end = max(columns.end[i] for i in block)
    if in_bed_raw:
        in_bed = union(in_bed_raw)
        in_bed_start, in_bed_end = min(in_bed[0][0], asleep[0][0]), max(in_bed[-1][1], wake)
    else:
        in_bed_start, in_bed_end = block_start, block_end
    wakes = 0
    j = 0
    for (_, gap_start), (gap_end, _) in itertools.pairwise(asleep):
        while j < len(awake) and awake[j][1] <= gap_start:
            j += 1
        marked = j < len(awake) and awake[j][0] < gap_end
        if marked or gap_end - gap_start >= WAKE_GAP:
            wakes += 1
    return Night(
        source=source,
        wake_date=local_day(wake, wake_offset)[0],
        wake=wake,
        wake_offset=wake_offset,
        asleep=sum(end - start for start, end in asleep),
        in_bed_start=in_bed_start,
        in_bed_end=in_bed_end,
        asleep_start=asleep[0][0],
        wakes=wakes,
        staged=staged,
        # Bedtime is only known from InBed: a leading Awake or the first record says when tracking
        # began, and for a night typed in by hand the asleep span is all there is.
        bed=(in_bed_start, in_bed_end) if in_bed_raw else None,
    )


def _is_nap(night: Night) -> bool:
    _, seconds = local_day(night.wake, night.wake_offset)
    return night.asleep < NAP_MAX_ASLEEP and NAP_END_WINDOW[0] <= seconds <= NAP_END_WINDOW[1]
