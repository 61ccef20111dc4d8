"""wengert.keep_freed_memory: after it, a loop that frees and reallocates arrays of a few MB
stops page-faulting them in again (checked in a fresh process: the setting is process-wide)."""

import pathlib
import subprocess
import sys

import pytest

SCRIPT = """
import resource, sys
import numpy as np
import wengert as wg
if sys.argv[1] == "keep":
    assert wg.keep_freed_memory()
x = np.ones((500, 500))  # 2 MB, above glibc's default mmap threshold


def step():  # a training step's temporaries: all alive at once, then all freed
    temporaries = [np.tanh(x) * k for k in range(10)]
    return sum(t.sum() for t in temporaries)


step(), step()  # let the heap grow to its working size
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(mode):
    # From the repository root, so that `python -c` imports this checkout's wengert.
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         check=True, cwd=pathlib.Path(__file__).resolve().parent.parent)
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_keep_freed_memory_stops_page_faults_of_reallocated_arrays():
    default, kept = _page_faults("default"), _page_faults("keep")
    assert default > 20 * 512  # the default refaults the 2 MB temporaries every step
    assert kept < default / 100, (default, kept)
