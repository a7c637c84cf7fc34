"""Code that runs inside the student's kernel: the probes of the hidden checks.

A probe is an ordinary function of a module here, ``probe_<part>(namespace, **inputs)``:
it reaches the student's names through ``namespace`` (the notebook's globals), runs the
student's code on ``inputs`` (the hidden inputs, JSON data chosen by the part's
checks module) and returns plain JSON data for the judge, which runs in the grader.
``autograder.checks.probe.Probe`` ships a probe into the kernel: the function and what
it uses from these modules, as one block of code, with the inputs written out.

So that any of it can run where only the student's environment exists, a module here:

- imports the standard library, NumPy, TensorFlow, Keras, scikit-learn, matplotlib and
  the other modules of this package, and nothing else of the grader (no reference
  value can reach the kernel);
- imports TensorFlow, Keras, scikit-learn and matplotlib inside the functions that use
  them: the grader imports these modules to name their functions, without loading
  TensorFlow;
- defines functions and literal constants only, each name once across the package
  (a probe's code is one namespace), and reaches the student's names through
  ``namespace`` alone (``names.student``), never as free names.

``tests/grader/test_probes.py`` checks these rules and runs each probe on made-up
notebooks.
"""
