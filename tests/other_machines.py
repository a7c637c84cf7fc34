"""Run the book's pages the way other machines would, to test what their prose claims.

A page's numbers come from float32 TensorFlow kernels that each CPU picks for itself
(an AMD EPYC machine ended a run at another loss than the Intel machine that built the
site), from the starting weights and from the seeds. A claim that holds on one machine
only is a coin toss. ``PERTURBATIONS`` stand in for other machines:

- oneDNN off and on (``TF_ENABLE_ONEDNN_OPTS``: other float32 kernels; off, this
  machine ends the peak-rate runs of the schedules page as the EPYC machine did);
- 1 and 2 threads (TensorFlow's intra- and inter-op thread pools);
- the starting weights one unit in the last place (ulp) larger, as another CPU's
  round-off would make them;
- other seeds (the starting weights and Keras's shuffles of another draw).

``run_pages`` executes the code cells of pages (jupytext, in order, one fresh namespace
per page) in one subprocess per perturbation and returns, per page, every value the
page glued (myst-nb ``glue``) and the error, if a cell raised: a page's hidden claims
cells ``assert`` the qualitative sentences of its prose, so a claim that flips raises.

    python tests/other_machines.py --perturbation "oneDNN off, 1 thread" optimizers/schedules

prints the JSON one perturbation gives (what the tests read).
"""

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (environment, threads, start): "nudge" moves every initial weight one ulp up,
# "seed" draws them (and Keras's shuffles) from seeds 1000 larger.
PERTURBATIONS = {
    "oneDNN off, 1 thread": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, 1, None),
    "oneDNN on, 2 threads": ({"TF_ENABLE_ONEDNN_OPTS": "1"}, 2, None),
    "oneDNN off, 2 threads, starts one ulp up": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, 2,
                                                 "nudge"),
    "oneDNN on, 1 thread, other seeds": ({"TF_ENABLE_ONEDNN_OPTS": "1"}, 1, "seed"),
}
SEED_OFFSET = 1000


def run_pages(pages, perturbation, book=ROOT / "book", timeout=1800):
    """{page: {"glue": {name: value}, "error": str | None, "seconds": float}} for the
    pages run under ``perturbation`` (a key of PERTURBATIONS), in a fresh process."""
    environment, _, _ = PERTURBATIONS[perturbation]
    env = {**os.environ, **environment, "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, __file__, "--perturbation", perturbation, "--book", str(book),
         *pages], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"the page runner failed under {perturbation!r}:\n"
                           f"{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- inside the subprocess ----------------------------------------------------------


def _set_threads(threads):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def _one_ulp_up(array):
    import numpy as np

    array = np.asarray(array)
    return np.nextafter(array, np.array(np.inf, dtype=array.dtype))


def _move_starts(start):
    """Patch the places the pages' starting weights come from."""
    import keras
    import numpy as np
    import tensorflow as tf

    import course.trajectories

    truncated_normal = tf.random.truncated_normal   # the notes' w1, b1; course.loop
    glorot = keras.initializers.VarianceScaling.__call__   # Keras's Dense kernels
    set_random_seed = keras.utils.set_random_seed
    run = course.trajectories.run                   # the 2-D functions' start point

    if start == "nudge":
        def nudged_truncated_normal(*args, **kwargs):
            values = truncated_normal(*args, **kwargs)
            return tf.constant(_one_ulp_up(values.numpy()), dtype=values.dtype)

        def nudged_glorot(self, shape, dtype=None):
            values = glorot(self, shape, dtype=dtype)
            return tf.constant(_one_ulp_up(np.asarray(values)), dtype=values.dtype)

        def nudged_run(name, hp, grad, start_point, num_steps):
            return run(name, hp, grad, _one_ulp_up(np.asarray(start_point, float)),
                       num_steps)

        tf.random.truncated_normal = nudged_truncated_normal
        keras.initializers.VarianceScaling.__call__ = nudged_glorot
        course.trajectories.run = nudged_run
    elif start == "seed":
        def other_truncated_normal(*args, seed=None, **kwargs):
            seed = None if seed is None else seed + SEED_OFFSET
            return truncated_normal(*args, seed=seed, **kwargs)

        def other_set_random_seed(seed):
            set_random_seed(seed + SEED_OFFSET)

        tf.random.truncated_normal = other_truncated_normal
        keras.utils.set_random_seed = other_set_random_seed


def _cheap_displays(glued):
    """Figures are not drawn and glue is recorded: only the numbers matter here."""
    import matplotlib
    import matplotlib.pyplot as plt

    import course.figure_alt

    matplotlib.use("Agg")
    plt.show = lambda *args, **kwargs: plt.close("all")
    course.figure_alt.offline_jshtml = lambda *args, **kwargs: ""
    myst_nb = types.ModuleType("myst_nb")

    def glue(name, value, display=True):
        glued[name] = value.item() if hasattr(value, "item") else value
    myst_nb.glue = glue
    sys.modules["myst_nb"] = myst_nb


def _run_page(path, glued):
    import io
    from contextlib import redirect_stdout

    import jupytext
    import matplotlib.pyplot as plt

    notebook = jupytext.read(path)
    namespace = {"__name__": "__main__"}
    with redirect_stdout(io.StringIO()):
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            if "raises-exception" in cell.metadata.get("tags", []):
                continue
            exec(compile(cell.source, str(path), "exec"), namespace)
            plt.close("all")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--perturbation", choices=list(PERTURBATIONS), required=True)
    parser.add_argument("--book", type=Path, default=ROOT / "book")
    parser.add_argument("pages", nargs="+", help="e.g. optimizers/schedules")
    args = parser.parse_args()
    _, threads, start = PERTURBATIONS[args.perturbation]
    _set_threads(threads)
    _move_starts(start)
    results = {}
    for page in args.pages:
        glued = {}
        _cheap_displays(glued)
        begin = time.perf_counter()
        try:
            _run_page(args.book / f"{page}.md", glued)
            error = None
        except Exception:  # noqa: BLE001 - reported to the test, which fails on it
            error = traceback.format_exc(limit=-3)
        results[page] = {"glue": {k: v if isinstance(v, (int, float, str)) else repr(v)
                                  for k, v in glued.items()},
                         "error": error, "seconds": time.perf_counter() - begin}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
