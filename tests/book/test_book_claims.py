"""What the book's prose claims, checked against what its cells compute.

One test (or more) per claim a review found wrong or unmeasured. Each reads the page
source and fails on the old wording; where the page now takes a number or a ranking
from a cell (myst-nb `glue`), the test checks that the prose uses the glued value and, when a built
site exists (COURSE_SITE, default _build/html), that the rendered sentence agrees with
the page's own printed output. The momentum-analysis page's stability limits are
checked against Keras's SGD on both sides of each limit.
"""

import html
import math
import os
import re
from pathlib import Path

import jupytext
import numpy as np
import pytest
from other_machines import PERTURBATIONS, run_pages

ROOT = Path(__file__).resolve().parents[2]
BOOK = Path(os.environ.get("COURSE_BOOK_SOURCES", ROOT / "book"))  # to test an old tree
SITE = Path(os.environ.get("COURSE_SITE", ROOT / "_build" / "html"))


def source(page):
    return (BOOK / f"{page}.md").read_text()


def squash(text):
    return re.sub(r"\s+", " ", text)


def code(page):
    notebook = jupytext.read(BOOK / f"{page}.md")
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "code")


def prose(page):
    notebook = jupytext.read(BOOK / f"{page}.md")
    return squash("\n".join(c.source for c in notebook.cells if c.cell_type == "markdown"))


def glued_in_prose(page, name):
    return re.search(r"\{glue:text\}`" + re.escape(name) + r"(:[^`]*)?`", prose(page))


def glued_in_code(page, name):
    return re.search(r"glue\(\s*f?[\"']" + re.escape(name), code(page))


def built(page):
    """The rendered text of a built page (tags stripped), or skip."""
    path = SITE / "book" / f"{page}.html"
    if not path.exists():
        pytest.skip(f"no built site at {SITE} (set COURSE_SITE)")
    text = path.read_text()
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("\u2019", "'")
    return squash(text)  # Sphinx's smart quotes made plain again


def assert_glued(page, *names):
    for name in names:
        assert glued_in_code(page, name), f"{page}: no cell glues {name!r}"
        assert glued_in_prose(page, name), f"{page}: the prose does not use {name!r}"


# --- 1. compile: the double softmax ----------------------------------------------------

def test_double_softmax_range_is_computed_not_log_3():
    text = prose("keras/compile")
    double_softmax = text[text.index("**Probabilities with `from_logits=True`**"):
                          text.index("**Logits with `from_logits=False`**")]
    assert "log 3" not in double_softmax and "1.10" not in double_softmax, \
        "the old 'near log 3' claim"
    assert_glued("keras/compile", "double_softmax_best", "double_softmax_worst",
                 "double_softmax_here")


def double_softmax_loss(probabilities, label=0):
    """Cross-entropy after a second softmax, what from_logits=True does to them."""
    z = np.asarray(probabilities, dtype=np.float64)
    return float(np.log(np.exp(z).sum()) - z[label])


def test_double_softmax_values():
    """What the glued numbers must be: a second softmax over 3 classes maps a certain
    prediction to e/(e+2) (loss 0.551) and a certainly wrong one to 1/(e+2) (1.551)."""
    best = double_softmax_loss([1.0, 0.0, 0.0])
    worst = double_softmax_loss([0.0, 1.0, 0.0])
    assert best == pytest.approx(math.log(math.e + 2) - 1, rel=1e-12)
    assert worst == pytest.approx(math.log(math.e + 2), rel=1e-12)
    rendered = built("keras/compile")
    assert f"a perfect prediction still costs {best:.2f}" in rendered
    assert f"a certainly wrong one only {worst:.2f}" in rendered


# --- 2. compile: what fit repairs -------------------------------------------------------

def test_the_page_says_a_softmax_op_in_the_graph_is_repaired():
    text = prose("keras/compile")
    assert "with probabilities from `tf.nn.softmax`, from `predict`" not in text
    assert "a `tf.nn.softmax` written inside a model's layers is repaired too" in text
    assert "class TfSoftmax(keras.layers.Layer)" in code("keras/compile")


@pytest.mark.slow  # two short fits, a few seconds with the TensorFlow import
def test_keras_gives_the_same_double_softmax_values():
    keras = pytest.importorskip("keras")
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for probabilities in ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.7, 0.2, 0.1]):
        by_keras = float(loss(np.array([0]), np.array([probabilities], dtype="float32")))
        assert by_keras == pytest.approx(double_softmax_loss(probabilities), rel=1e-6)


@pytest.mark.slow  # two short fits, a few seconds with the TensorFlow import
def test_fit_repairs_a_tf_nn_softmax_layer():
    import warnings

    keras = pytest.importorskip("keras")
    import tensorflow as tf

    class TfSoftmax(keras.layers.Layer):
        def call(self, z):
            return tf.nn.softmax(z)

    from course.data import load_iris_shuffled

    x, y = load_iris_shuffled()

    def fit(from_logits):
        keras.utils.set_random_seed(116)
        model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3),
                                  TfSoftmax()])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                      loss=keras.losses.SparseCategoricalCrossentropy(
                          from_logits=from_logits))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loss = model.fit(x, y, epochs=3, verbose=0).history["loss"][-1]
        return loss, caught

    wrong, caught = fit(True)
    right, _ = fit(False)
    assert any("from_logits=True" in str(w.message) for w in caught)
    assert wrong == pytest.approx(right, rel=1e-5), "the wrong pairing was not repaired"


# --- 3. comparison and adagrad: who leaves the saddle ------------------------------------

def test_no_unmeasured_saddle_ranking():
    for page in ["optimizers/comparison", "optimizers/adagrad"]:
        text = prose(page)
        assert "leave saddles fastest" not in text, page
        assert "The methods that escape fastest are" not in text, page
    assert_glued("optimizers/comparison", "saddle_first", "saddle_farthest",
                 "saddle_farthest_f")


@pytest.mark.slow  # imports TensorFlow
def test_rendered_saddle_ranking_matches_the_runs():
    """Recompute the saddle runs (compiled, cheap) and compare with the page."""
    rendered = built("optimizers/comparison")
    from course.trajectories import SADDLE, hyperparams, trajectory

    paths = {name: trajectory(name, hyperparams(name, lr=0.1), SADDLE, 40)
             for name in ["sgd", "momentum", "adagrad", "rmsprop", "adadelta", "adam"]}
    final = {name: SADDLE.f(*path[-1]) for name, path in paths.items()}
    assert min(final, key=final.get) == "momentum"
    assert "The farthest after 40 steps is momentum (Keras's form, μ = 0.9)" in rendered
    assert "RMSprop and Adam turn off the ridge first" in rendered


# --- 4. comparison: the bowl -----------------------------------------------------------

def test_momentum_gets_sgds_rate_on_the_bowl_and_the_winner_is_glued():
    bowl = re.search(r'"bowl": \(QUADRATIC, 100, dict\(([^)]*)\)', code("optimizers/comparison"))
    rates = dict(re.findall(r"(\w+)=([\d.]+)", bowl.group(1)))
    assert rates["momentum"] == rates["sgd"], "momentum must get SGD's learning rate"
    assert_glued("optimizers/comparison", "bowl_lowest", "bowl_factor_momentum",
                 "bowl_factor_sgd")
    assert "head more directly for the minimum" in prose("optimizers/comparison")


@pytest.mark.slow  # imports TensorFlow
def test_rendered_bowl_winner_matches_the_runs():
    rendered = built("optimizers/comparison")
    from course.trajectories import QUADRATIC, hyperparams, trajectory

    rates = dict(sgd=0.4, momentum=0.4, adagrad=0.5, rmsprop=0.1, adadelta=1.0, adam=0.1)
    final = {name: QUADRATIC.f(*trajectory(name, hyperparams(name, lr=lr), QUADRATIC,
                                          100)[-1])
             for name, lr in rates.items()}
    assert min(final, key=final.get) == "sgd"
    assert f"SGD ends lowest, at f = {final['sgd']:.1e}" in rendered


# --- 5. rmsprop: how fast it forgets ----------------------------------------------------

def test_rmsprop_recovery_is_measured():
    text = prose("optimizers/rmsprop")
    assert "within a few dozen steps" not in text
    assert "returns to steps of about" not in text
    assert_glued("optimizers/rmsprop", "rmsprop_step_50", "rmsprop_steps_to_half")


def test_rmsprop_recovery_figures():
    """The arithmetic behind the glued numbers: after the drop from 1 to 0.01, s decays
    like 0.9^t towards 1e-4; the step is eta * 0.01 / sqrt(s)."""
    s, steps = 1.0, []
    for _ in range(200):
        s = 0.9 * s + 0.1 * 0.01**2
        steps.append(0.01 / math.sqrt(s + 1e-7))
    assert 1 / 8 < steps[49] < 1 / 6                      # about eta / 7
    half = next(i for i, step in enumerate(steps) if step >= 0.5) + 1
    assert 70 <= half <= 80
    rendered = built("optimizers/rmsprop")
    assert re.search(r"Fifty steps after the drop the step is still only 0\.1[3-5] η",
                     rendered.replace("\\(\\eta\\)", "η"))


# --- 6. adam: how far apart the two epsilons put the steps ------------------------------

def test_adam_step_ratio_is_computed_per_step():
    assert "take steps 16 times apart here" not in prose("optimizers/adam")
    assert_glued("optimizers/adam", "adam_ratio_1", "adam_ratio_3")


def test_adam_step_ratios():
    """Paper's form with eps against Keras's form with the same eps: 16x, 12x, 10x."""
    lr, eps, g, b1, b2 = 0.1, 1e-3, 1e-3, 0.9, 0.999
    m = v = 0.0
    ratios = []
    for t in range(1, 4):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        paper = lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        keras_form = lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (math.sqrt(v) + eps)
        ratios.append(paper / keras_form)
    assert [round(r) for r in ratios] == [16, 12, 10]
    rendered = built("optimizers/adam")
    assert "take steps 16 times apart at the first step" in rendered
    assert re.search(r"\(\s*10 times at the third\)", rendered)


# --- 7. intro: not "to the last digit" --------------------------------------------------

def test_intro_does_not_promise_the_last_digit():
    text = squash(source("intro"))
    assert "to the last digit" not in text
    assert "float32" in text and "round-off" in text


# --- 8. rmsprop: Keras's names -----------------------------------------------------------

def test_rmsprop_names_keras_state_correctly():
    text = prose("optimizers/rmsprop")
    assert "the course uses Keras's names" not in text
    assert "`_velocities`" in text and "`rho`" in text


@pytest.mark.slow  # imports TensorFlow
def test_keras_rmsprop_keeps_s_in_velocities():
    keras = pytest.importorskip("keras")
    import tensorflow as tf

    optimizer = keras.optimizers.RMSprop()
    optimizer.build([tf.Variable([1.0])])
    assert len(optimizer._velocities) == 1 and optimizer.rho == 0.9


# --- 9. notation and figure widths -------------------------------------------------------

CONTENT = sorted(str(p.relative_to(BOOK).with_suffix(""))
                 for p in [BOOK / "training-loop.md", *BOOK.glob("optimizers/*.md"),
                           *BOOK.glob("keras/*.md")])


@pytest.mark.parametrize("page", CONTENT)
def test_figures_at_most_10_inches_wide(page):
    widths = [float(w) for w in re.findall(r"figsize=\(\s*([\d.]+)\s*,", code(page))]
    assert all(w <= 10 for w in widths), f"{page}: figsize widths {widths} (max 10 in)"


def test_built_figures_at_most_1000_pixels():
    if not (SITE / "_images").exists():
        pytest.skip(f"no built site at {SITE}")
    from PIL import Image

    shown = {name for page in SITE.rglob("*.html")
             for name in re.findall(r'src="[^"]*_images/([^"]+\.png)"', page.read_text())}
    wide = {name: Image.open(SITE / "_images" / name).size[0] for name in shown
            if Image.open(SITE / "_images" / name).size[0] > 1000}
    assert not wide, f"figures wider than 10 in at 100 dpi: {wide}"


def test_one_symbol_one_meaning():
    nesterov = source("optimizers/nesterov")
    assert "u_t = w_t" not in nesterov and "\\tilde w_t = w_t + \\mu" in nesterov
    adadelta = source("optimizers/adadelta")
    assert "d_t" not in adadelta and "\\Delta_t" in adadelta
    assert "(notation)=" in source("glossary")
    for page in ["optimizers/adam", "optimizers/rmsprop"]:
        assert "{ref}`notation table <notation>`" in source(page), page


# keras2-to-3 is left out: that page names tf.keras and keras both, on purpose.
@pytest.mark.parametrize("page", [p for p in CONTENT if p != "keras/keras2-to-3"])
def test_the_book_writes_keras_not_tf_keras(page):
    assert "tf.keras." not in code(page), f"{page}: write keras., as the rest of the book"


# --- 10. the notes' mistakes, named -------------------------------------------------------

def test_the_mse_comment_is_named_and_computed():
    text = prose("training-loop")
    assert "`mse = mean(sum(y-out)^2)`" in text and "The code is right; the comment is not." in text
    assert "tf.square(tf.reduce_sum(y_ - y, axis=1))" in code("training-loop")


def test_validation_split_is_a_validation_set():
    text = prose("keras/six-steps")
    assert "The notes do not split off a test set here" not in text
    assert "验证集" in text and "测试集" in text and "{term}`validation set`" in text


def test_rmsprop_page_corrects_second_derivative():
    text = prose("optimizers/rmsprop")
    assert "二次导数" in text and "is not a second derivative" in text


def test_the_notes_4d_is_explained():
    text = prose("keras/fit-predict")
    assert "(4D)" in text and "batch axis" in text
    assert "model(x_iris[0])" in code("keras/fit-predict")


# --- the momentum analysis: predicted limits against runs ----------------------------------

def test_stable_limits_from_the_eigenvalues():
    """Scan eta: the spectral radius crosses 1 exactly at 2 (1 + mu) / L."""
    from course import quadratic

    for L, mu in [(1.0, 0.0), (1.0, 0.5), (4.0, 0.9), (20.0, 0.3)]:
        limit = quadratic.stable_limit(L, mu)
        etas = np.linspace(0.01, 2 * limit, 400)
        stable = np.array([quadratic.rate(eta, [L, L / 30], mu) < 1 for eta in etas])
        assert np.array_equal(stable, etas < limit), (L, mu)


@pytest.mark.slow  # 8 Keras runs of 300 eager steps
def test_momentum_analysis_limits_match_keras_on_both_sides():
    from course import quadratic

    eigenvalues, x0 = [1.0, 0.05], [1.0, 1.0]
    for mu in [0.0, 0.5, 0.9]:
        limit = quadratic.stable_limit(max(eigenvalues), mu)
        for side in [0.97, 1.03]:
            eta = side * limit
            predicted = quadratic.predicted_distances(eta, eigenvalues, x0, 300, mu)
            by_keras = quadratic.keras_distances(eta, eigenvalues, x0, 300, mu)
            # Keras keeps eta and mu in float32, and 300 steps amplify that: measured
            # 2.3e-4 relative at worst (diverging runs); near a zero crossing of a
            # component the distance is tiny, hence atol
            np.testing.assert_allclose(by_keras, predicted, rtol=1e-3, atol=1e-8)
            if side < 1:
                assert by_keras[-1] < 1e-2 * by_keras[0], (mu, side)
            else:
                assert by_keras[-1] > 1e2 * by_keras[0], (mu, side)


def test_momentum_analysis_page_glues_its_figures():
    assert_glued("optimizers/momentum-analysis", "steps_sgd", "steps_hb",
                 "keras_vs_matrices")


def test_schedules_page_summary_matches_its_runs():
    """The summary says what the page's runs show: the moderate runs' winner is glued,
    and the counts of stalled runs at the two peak rates are glued and asserted."""
    assert_glued("optimizers/schedules", "lowest_at_03", "schedules_vs_keras_roundoff",
                 "keras_rate_roundoff", "keras_weight_roundoff", "flipped_by_one_ulp",
                 *(f"stalled_{shape}_{peak}" for shape in ["constant", "cosine", "warmup"]
                   for peak in ["1", "15"]))
    text = prose("optimizers/schedules")
    assert "warm-up is what saves the run" not in text, "false on other machines"
    assert "nearly convex" not in text, "softmax + MSE is not convex"
    rendered = re.sub(r" ([,.;])", r"\1", built("optimizers/schedules"))  # "14 ," -> "14,"
    assert "runs that stall (test accuracy under 90 %), out of 100 starts" in rendered
    for peak in ["1.0", "1.5"]:
        counts = re.search(rf"peak {peak}: constant (\d+), cosine (\d+), warm-up \+ "
                           r"cosine (\d+)", rendered)
        assert counts, f"no printed counts at peak {peak}"
        constant, cosine, warmup = counts.groups()
        if peak == "1.0":
            assert f"{constant} of 100 at 1.0" in rendered
            assert f"cosine decay alone stalls {cosine}, warm-up + cosine {warmup}" in rendered
        else:
            assert f"still stalls {cosine} of 100; with warm-up, {warmup}" in rendered


# --- every page true on every machine ----------------------------------------------------
# The pages that compute what their prose says (they glue values into it, or assert
# its claims in hidden cells) run again as other machines would run them
# (tests/other_machines.py): every claims cell must hold under every perturbation,
# and every glued value must read the same, except under other seeds, which may move
# a number but must not break a claim.

# TensorFlow's defaults on the 2-core machines that build the site.
REFERENCE = "oneDNN on, 2 threads"
SAME_START = [p for p in PERTURBATIONS if p != REFERENCE and "seeds" not in p]
# Glued numbers that measure the machine rather than the lesson (timings, the size of
# round-off): they differ from CPU to CPU by nature, and the prose says so.
MACHINE_MEASURE = re.compile(r"(_seconds|_ms|_roundoff)$")
GLUE_ROLE = re.compile(r"\{glue(?::text)?\}`([\w]+)(?::([^`]*))?`")


def claim_pages():
    pages = []
    for page in CONTENT:
        notebook = jupytext.read(BOOK / f"{page}.md")
        cells = [c for c in notebook.cells if c.cell_type == "code"]
        if any("glue(" in c.source or ("remove-cell" in c.metadata.get("tags", [])
                                       and re.search(r"^assert ", c.source, re.M))
               for c in cells):
            pages.append(page)
    return pages


CLAIM_PAGES = claim_pages()


@pytest.fixture(scope="session")
def page_run(request):
    """page_run(page, perturbation): what tests/other_machines.py reports for the page.

    One subprocess per perturbation runs every page the selected tests need."""
    wanted = {}
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "page" in params and "perturbation" in params:
            wanted.setdefault(params["perturbation"], set()).add(params["page"])
            if params["perturbation"] in SAME_START:   # compared with the reference
                wanted.setdefault(REFERENCE, set()).add(params["page"])
    done = {}

    def run(page, perturbation):
        if perturbation not in done:
            pages = sorted(wanted.get(perturbation, set()) | {page})
            done[perturbation] = run_pages(pages, perturbation, book=BOOK)
        if page not in done[perturbation]:
            done[perturbation].update(run_pages([page], perturbation, book=BOOK))
        return done[perturbation][page]
    return run


def test_the_claim_pages_are_found():
    """The pages whose prose rests on runs are the ones the perturbation tests run."""
    for page in ["optimizers/schedules", "optimizers/comparison", "keras/compile"]:
        assert page in CLAIM_PAGES, page


def test_machine_measures_are_named_as_such():
    """A glued timing or round-off size is exempt from reading the same everywhere,
    so its name must say what it is."""
    for page in CLAIM_PAGES:
        for name, _ in GLUE_ROLE.findall(prose(page)):
            if re.search(r"(time|gap|diff|error|ms$)", name):
                assert MACHINE_MEASURE.search(name), f"{page}: name {name!r} a measure"


@pytest.mark.slow  # runs the claim pages in a subprocess per perturbation: minutes
@pytest.mark.parametrize("perturbation", list(PERTURBATIONS))
@pytest.mark.parametrize("page", CLAIM_PAGES)
def test_claims_hold_on_other_machines(page, perturbation, page_run):
    result = page_run(page, perturbation)
    assert result["error"] is None, (
        f"{page} under {perturbation!r}: a cell raised (a claims cell's assert is a claim "
        f"of the prose that does not hold there):\n{result['error']}")


def shown(value, spec):
    """The text a glue role shows for ``value`` with the format ``spec``."""
    return format(value, spec) if spec else str(value)


def reads_the_same(reference, other):
    """Two renderings of one glued value make the same sentence: the same words, or
    numbers apart by at most a fifth or one unit of the last digit shown (a count of
    runs over random starts, a loss to four digits)."""
    if reference == other:
        return True
    number = re.compile(r"^-?(\d+)(?:\.(\d+))?(?:e([-+]\d+))?$")
    a, b = number.match(reference), number.match(other)
    if not (a and b):
        return False
    decimals, exponent = len(a.group(2) or ""), int(a.group(3) or 0)
    last_digit = 10.0 ** (exponent - decimals)
    return abs(float(reference) - float(other)) <= max(last_digit * 1.001,
                                                       0.2 * abs(float(reference)))


def test_reads_the_same_accepts_round_off_and_rejects_a_flip():
    assert reads_the_same("0.0374", "0.0375") and reads_the_same("74", "66")
    assert reads_the_same("Adam", "Adam") and reads_the_same("2.3e-16", "2.4e-16")
    # the schedules page's warm-up run at peak 1.0: Intel, then oneDNN off (as EPYC)
    assert not reads_the_same("0.033", "0.158")
    assert not reads_the_same("Adam, Nesterov", "Nesterov, Adam")


@pytest.mark.slow  # runs the claim pages in a subprocess per perturbation: minutes
@pytest.mark.parametrize("perturbation", SAME_START)
@pytest.mark.parametrize("page", CLAIM_PAGES)
def test_glued_prose_reads_the_same_on_other_machines(page, perturbation, page_run):
    reference, other = page_run(page, REFERENCE), page_run(page, perturbation)
    assert reference["error"] is None and other["error"] is None, "see the test above"
    changed = {}
    for name, spec in GLUE_ROLE.findall(prose(page)):
        if MACHINE_MEASURE.search(name):
            continue
        here = shown(reference["glue"][name], spec)
        there = shown(other["glue"][name], spec)
        if not reads_the_same(here, there):
            changed[name] = (here, there)
    assert not changed, (f"{page}: glued values that read differently under "
                         f"{perturbation!r} (reference, there): {changed}")
