"""Colourings of sparsity patterns: which columns may share one JVP (or Hessian-vector
product) and which rows may share one VJP, so that every nonzero can be read back directly
from the compressed products (see `compute._recover`).

- `color_columns`: greedy distance-1 colouring of the column intersection graph, i.e. groups
  of structurally orthogonal columns (Curtis, Powell and Reid). On a symmetric pattern it is
  a distance-2 colouring of the adjacency graph.
- `color_star`: greedy star colouring of the adjacency graph of a symmetric pattern
  (Gebremedhin, Manne and Pothen, SIAM Review 2005, section 4): a proper colouring in which
  every path on four vertices uses at least three colours, so every two-coloured subgraph
  is a collection of stars. A Hessian entry is then read from the product of its column's
  colour or, by symmetry, of its row's: 2 colours instead of n on an arrow, but the same
  2b + 1 as `color_columns` on a band of half-bandwidth b (the least a star colouring of a
  band can use).
- `color_acyclic`: greedy acyclic colouring (every two-coloured subgraph is a forest;
  Gebremedhin, Tarafdar, Manne and Pothen, SIAM J. Sci. Comput. 2007): fewer colours than a
  star colouring (b + 1 instead of 2b + 1 on a band of half-bandwidth b), with the Hessian
  recovered by substitution along the two-coloured trees instead of directly.
- `color_jacobian`: one-sided (columns by JVPs or rows by VJPs) or bidirectional: the rows
  with the most nonzeros are computed by VJPs and the remaining rows by JVPs (or the dense
  columns by JVPs and the rest by VJPs). An arrow pattern (dense row + dense column +
  diagonal) needs n colours on either side alone but 1 VJP + 2 JVPs this way. This is a
  simple threshold search in the spirit of Coleman and Verma's bicolouring (1998), not
  their star bicolouring.

Colours are numbered from 0; -1 marks a column (row, vertex) that needs no product because
it has no nonzero (or, in a bidirectional split, because the other side covers it).
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["color_columns", "color_star", "color_acyclic", "color_jacobian"]

# A bidirectional search tries the row (column) splits at the largest distinct numbers of
# nonzeros per row (column) only: the dense rows and columns that make one-sided colourings
# expensive are among the first, and each trial costs a pass over the pattern.
_MAX_THRESHOLDS = 16


def as_pattern(pattern):
    """`pattern` as a boolean CSR matrix without stored zeros."""
    pattern = sp.csr_matrix(pattern, dtype=bool)
    pattern.eliminate_zeros()
    return pattern


def num_colors(colors):
    """The number of colours (products) a colouring uses."""
    return int(colors.max(initial=-1)) + 1


def color_columns(pattern):
    """Greedy distance-1 colouring of the column intersection graph of `pattern` (columns
    that share a nonzero row get different colours), in natural order. Returns an int array
    of one colour per column, colours numbered from 0, and -1 for a column without nonzeros
    (it needs no product). Columns of one colour are structurally orthogonal, so one product
    with their summed seed recovers all of them.

    >>> color_columns(np.eye(3) + np.eye(3, k=1))  # bidiagonal: 2 colours
    array([0, 1, 0])
    """
    pattern = sp.csc_matrix(as_pattern(pattern))
    conflicts = (pattern.T @ pattern).tocsr()  # (j, j) is stored iff column j has a nonzero
    indptr, indices = conflicts.indptr, conflicts.indices
    colors = np.full(pattern.shape[1], -1, dtype=np.intp)
    for j in range(pattern.shape[1]):
        used = colors[indices[indptr[j]:indptr[j + 1]]]
        if used.size:
            taken = np.zeros(used.size + 1, dtype=bool)
            taken[used[(used >= 0) & (used <= used.size)]] = True
            colors[j] = int(np.argmin(taken))
    return colors


def _adjacency(pattern):
    """The adjacency lists of the graph of the symmetrised `pattern` (the diagonal is not
    an edge), and the vertices with any nonzero (a diagonal-only vertex needs a colour)."""
    sym = as_pattern(pattern)
    sym = (sym + sym.T).tocoo()
    off = sym.row != sym.col
    graph = sp.csr_matrix((np.ones(int(off.sum()), dtype=bool), (sym.row[off], sym.col[off])),
                          shape=sym.shape)
    indptr, indices = graph.indptr.tolist(), graph.indices.tolist()
    adj = [indices[start:stop] for start, stop in zip(indptr[:-1], indptr[1:])]
    return adj, np.unique(sym.row).tolist()


def _smallest_free(taken):
    c = 0
    while c in taken:
        c += 1
    return c


# The greedy star and acyclic colourings below run on Python lists, sets and dicts: a
# vertex costs a few operations per neighbour and colour, where NumPy calls would cost
# more than the work itself at typical degrees.


def color_star(pattern):
    """Greedy star colouring (natural order) of the adjacency graph of the symmetric
    `pattern` (the pattern is symmetrised; the diagonal is not an edge). Adjacent vertices
    get different colours and every path on four vertices uses at least three colours.
    Returns one colour per vertex, -1 for a vertex without any nonzero.

    Each vertex v takes the smallest colour c that keeps every two-coloured component of
    the coloured vertices a star (an exact test, not the conservative one of Gebremedhin et
    al.'s Algorithm 4.1). For a colour a of a neighbour of v, the {a, c} component that v
    joins is v plus the components of its a-coloured neighbours w. If there is one such w,
    that component must be a star centred at w: no c-coloured neighbour of w may have
    another a-coloured neighbour (`bad[w]` holds the colours c for which one does). If
    there are several, v must be the centre: no such w may have a c-coloured neighbour at
    all (`counts[w]` holds the colours of w's coloured neighbours). Both records are kept
    up to date as vertices are coloured, so a vertex costs O(degree x colours), even next
    to a dense row.

    >>> color_star(np.eye(4) + np.eye(4, k=1) + np.eye(4, k=-1))  # tridiagonal: 3 colours
    array([0, 1, 0, 2])
    """
    adj, vertices = _adjacency(pattern)
    colors = [-1] * len(adj)
    counts = [{} for _ in adj]  # counts[x][a]: coloured neighbours of x with colour a
    bad = [set() for _ in adj]
    for v in vertices:
        ws = [w for w in adj[v] if colors[w] >= 0]
        seen = {}
        for w in ws:
            seen[colors[w]] = seen.get(colors[w], 0) + 1
        taken = set(seen)
        for w in ws:
            taken.update(counts[w] if seen[colors[w]] >= 2 else bad[w])
        c = colors[v] = _smallest_free(taken)
        for u in adj[v]:
            counts[u][c] = counts[u].get(c, 0) + 1
        # A neighbour u with two or more c-coloured neighbours now: each of those (v, and
        # the first one when u just reached two) gets u's colour marked bad.
        for u in ws:
            if counts[u][c] >= 2:
                bad[v].add(colors[u])
            if counts[u][c] == 2:
                for first in adj[u]:
                    if colors[first] == c and first != v:
                        bad[first].add(colors[u])
        # v is a c-coloured neighbour of each w whose colour v sees twice or more.
        for w in ws:
            if seen[colors[w]] >= 2:
                bad[w].add(c)
    return np.array(colors, dtype=np.intp)


def _find(parent, v):
    """The root of `v` in the union-find forest `parent` (a dict; absent: its own root)."""
    root = v
    while parent.get(root, root) != root:
        root = parent[root]
    while v != root:  # path compression
        parent[v], v = root, parent[v]
    return root


def color_acyclic(pattern):
    """Greedy acyclic colouring (natural order) of the adjacency graph of the symmetric
    `pattern`: adjacent vertices get different colours and every cycle uses at least three
    colours, so every two-coloured subgraph is a forest. Returns one colour per vertex, -1
    for a vertex without any nonzero. Fewer colours than `color_star` (b + 1 instead of
    2b + 1 on a band of half-bandwidth b); the Hessian is then recovered by substitution
    along the two-coloured trees (see `compute._recover_by_substitution`).

    The test is exact: the components of every two-coloured subgraph are kept in one
    union-find structure per colour pair, and colour c is refused for v when two of its
    neighbours of one colour a already lie in one {a, c} tree (v would close a cycle).

    >>> color_acyclic(np.eye(4) + np.eye(4, k=1) + np.eye(4, k=-1))  # tridiagonal: 2
    array([0, 1, 0, 1])
    """
    adj, vertices = _adjacency(pattern)
    colors = [-1] * len(adj)
    trees = {}  # (a, c), a < c: union-find parents of the {a, c}-coloured subgraph
    for v in vertices:
        by_color = {}
        for w in adj[v]:
            if colors[w] >= 0:
                by_color.setdefault(colors[w], []).append(w)
        taken = set(by_color)
        for a, group in by_color.items():
            if len(group) < 2:
                continue  # v joins a single {a, c} tree: no cycle
            seen = set()
            for w in group:
                for c in {colors[x] for x in adj[w] if colors[x] >= 0}:
                    key = (c, _find(trees.get((min(a, c), max(a, c)), {}), w))
                    if key in seen:
                        taken.add(c)
                    seen.add(key)
        c = colors[v] = _smallest_free(taken)
        for a, group in by_color.items():
            tree = trees.setdefault((min(a, c), max(a, c)), {})
            for w in group:
                tree[_find(tree, w)] = _find(tree, v)
    return np.array(colors, dtype=np.intp)


# Bidirectional -----------------------------------------------------------------------------


def _split(pattern, rev, transposed):
    """Rows `rev` of `pattern` coloured for VJPs and the columns of the other rows for
    JVPs: (row_colors, col_colors). With `transposed`, `pattern` is the transposed
    Jacobian (so `rev` marks columns computed by JVPs) and the pair is swapped back."""
    row_colors = np.full(pattern.shape[0], -1, dtype=np.intp)
    if rev.any():
        row_colors[rev] = color_columns(pattern[rev].T)
    colors = (row_colors, color_columns(pattern[~rev]))
    return colors[::-1] if transposed else colors


def _max_count(pattern, axis):
    return int(np.asarray(pattern.sum(axis=axis)).max(initial=0))


def _row_splits(pattern, proper):
    """Candidate splits (rows with at least t nonzeros go to VJPs), each with a lower bound
    on its passes: the most nonzeros of one column among those rows (they all need
    different row colours) plus the most nonzeros of one remaining row."""
    row_nnz = np.diff(pattern.indptr)
    thresholds = np.unique(row_nnz[row_nnz > 0])[::-1]
    if proper:  # keep at least one nonzero row on each side
        thresholds = thresholds[:-1]
    for t in thresholds[:_MAX_THRESHOLDS]:
        rev = row_nnz >= t
        yield _max_count(pattern[rev], 0) + _max_count(pattern[~rev], 1), rev


def _candidates(pattern, mode):
    """(lower bound on passes, preference, arguments of `_split`) for each colouring that
    `mode` considers."""
    transposed = pattern.T.tocsr()
    out = []
    if mode in ("fwd", "auto"):
        no_rows = np.zeros(pattern.shape[0], dtype=bool)
        out.append((_max_count(pattern, 1), 0, (pattern, no_rows, False)))
    if mode in ("rev", "auto"):
        no_cols = np.zeros(pattern.shape[1], dtype=bool)
        out.append((_max_count(pattern, 0), 1, (transposed, no_cols, True)))
    if mode in ("bidirectional", "auto"):
        proper = mode == "bidirectional"
        for side, is_transposed in ((pattern, False), (transposed, True)):
            out += [(bound, 2, (side, chosen, is_transposed))
                    for bound, chosen in _row_splits(side, proper)]
    return out


def _bound_and_preference(candidate):
    return candidate[:2]


def color_jacobian(pattern, mode="auto"):
    """Colour a Jacobian pattern for compressed evaluation. Returns (row_colors,
    col_colors): row i goes into VJP number row_colors[i] and column j into JVP number
    col_colors[j] (-1: in none); every nonzero is recoverable from one of the two.

    `mode` is "fwd" (columns only), "rev" (rows only), "bidirectional" (the best split
    with rows of at least t nonzeros by VJPs and the other rows' columns by JVPs, or dense
    columns by JVPs and the other columns' rows by VJPs; one-sided only when no split has
    both sides) or "auto" (the fewest passes of all of these; ties prefer "fwd", then
    "rev"). Candidates are evaluated in order of a lower bound on their passes and the
    search stops once no remaining candidate can do better.
    """
    pattern = as_pattern(pattern)
    candidates = _candidates(pattern, mode)
    if not candidates:  # no proper split exists (e.g. a single row or column)
        candidates = _candidates(pattern, "auto")
    candidates.sort(key=_bound_and_preference)
    best, best_key = None, None
    for bound, preference, split in candidates:
        if best_key is not None and (bound, preference) >= best_key:
            break
        colors = _split(*split)
        key = (num_colors(colors[0]) + num_colors(colors[1]), preference)
        if best_key is None or key < best_key:
            best, best_key = colors, key
    return best
