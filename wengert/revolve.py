"""Binomial checkpointing schedules (Griewank 1992; Griewank & Walther, ACM TOMS Algorithm 799,
"revolve").

Reversing a loop of `steps` iterations while holding at most `snapshots` stored carries (the
initial carry included) takes, at best, `min_advances(steps, snapshots)` plain (untaped)
evaluations of the loop body besides the `steps` taped ones:

    t(l, s) = r * l - beta(s + 1, r - 1),   r minimal with beta(s, r) >= l,
    beta(s, r) = C(s + r, s),

counting the first forward sweep. `schedule(steps, snapshots)` returns a list of actions that
achieves it; `wengert.checkpoint.fori_loop_revolve` runs one.
"""

from math import comb

# Actions, each a tuple whose first entry is one of:
#   ("takeshot", i)   store the current carry (that of iteration i) as a snapshot
#   ("advance", i, j) run iterations i..j-1 untaped: the current carry goes from i to j
#   ("reverse", i)    run iteration i taped from the current carry and pull the cotangent back
#   ("restore", i)    make the snapshot of iteration i the current carry
#   ("free", i)       drop the snapshot of iteration i
TAKESHOT, ADVANCE, REVERSE, RESTORE, FREE = "takeshot", "advance", "reverse", "restore", "free"


def beta(s, r):
    """The number of steps that `s` snapshots reverse with at most `r` repetitions of each."""
    return comb(s + r, s)


def min_advances(steps, snapshots):
    """The minimal number of untaped body evaluations needed to reverse `steps` iterations
    with `snapshots` stored carries (the initial one included), the first sweep counted."""
    _check(steps, snapshots)
    if steps <= 1:
        return 0
    r = 0
    while beta(snapshots, r) < steps:
        r += 1
    return r * steps - beta(snapshots + 1, r - 1)


def _check(steps, snapshots):
    if int(steps) != steps or steps < 0:
        raise ValueError(f"revolve: steps must be a non-negative integer, got {steps!r}.")
    if int(snapshots) != snapshots or snapshots < 1:
        raise ValueError(
            f"revolve: snapshots must be an integer >= 1 (the initial carry is one), got "
            f"{snapshots!r}."
        )


def _split(length, snaps):
    """Where to place the next snapshot, relative to the current one, when reversing `length`
    steps with `snaps` snapshots: Walther's closed form from revolve, checked against the
    optimal cost (a search over the few candidates is the fallback)."""
    reps, rng = 0, 1
    while rng < length:
        reps += 1
        rng = rng * (reps + snaps) // reps
    bino1 = rng * reps // (snaps + reps)
    bino2 = bino1 * snaps // (snaps + reps - 1) if snaps > 1 else 1
    if snaps == 1:
        bino3 = 0
    else:
        bino3 = bino2 * (snaps - 1) // (snaps + reps - 2) if snaps > 2 else 1
    bino4 = bino2 * (reps - 1) // snaps
    if snaps < 3:
        bino5 = 0
    else:
        bino5 = bino3 * (snaps - 2) // reps if snaps > 3 else 1
    if length <= bino1 + bino3:
        k = bino4
    elif length >= rng - bino5:
        k = bino1
    else:
        k = length - bino2 - bino3
    k = min(max(k, 1), length - 1)
    best = min_advances(length, snaps)
    if _split_cost(length, snaps, k) != best:
        k = next(j for j in range(1, length) if _split_cost(length, snaps, j) == best)
    return k


def _split_cost(length, snaps, k):
    return k + min_advances(length - k, snaps - 1) + min_advances(k, snaps)


def schedule(steps, snapshots):
    """The optimal (binomial) list of actions reversing `steps` iterations with at most
    `snapshots` stored carries, the initial one included. It begins with the first forward
    sweep; its first REVERSE is of the last iteration, whose output the sweep never stores.

    >>> sum(a[2] - a[1] for a in schedule(10, 3) if a[0] == ADVANCE) == min_advances(10, 3)
    True
    """
    _check(steps, snapshots)
    actions = []
    if steps == 0:
        return actions
    actions.append((TAKESHOT, 0))
    # A stack of pending tasks instead of recursion: ("reverse", start, end, snaps) reverses
    # iterations start..end-1 with the carry of `start` held in a snapshot (counted in snaps).
    tasks = [(0, steps, snapshots, False)]
    while tasks:
        start, end, snaps, restore = tasks.pop()
        if restore == "free":
            actions.append((FREE, start))
            continue
        if restore:
            actions.append((RESTORE, start))
        length = end - start
        if length == 1:
            actions.append((REVERSE, start))
        elif snaps == 1:
            for i in range(end - 1, start - 1, -1):
                if i != end - 1:
                    actions.append((RESTORE, start))
                if i > start:
                    actions.append((ADVANCE, start, i))
                actions.append((REVERSE, i))
        else:
            mid = start + _split(length, snaps)
            actions.append((ADVANCE, start, mid))
            actions.append((TAKESHOT, mid))
            # Pushed in reverse order of execution.
            tasks.append((start, mid, snaps, True))
            tasks.append((mid, None, None, "free"))
            tasks.append((mid, end, snaps - 1, False))
    return actions


def count_advances(actions):
    """Untaped body evaluations in a schedule."""
    return sum(a[2] - a[1] for a in actions if a[0] == ADVANCE)


def max_snapshots(actions):
    """The largest number of snapshots a schedule holds at once."""
    held = peak = 0
    for a in actions:
        if a[0] == TAKESHOT:
            held += 1
            peak = max(peak, held)
        elif a[0] == FREE:
            held -= 1
    return peak
