"""Correct answers written differently: each must keep full marks (tests/assignments/
test_assignments.py grades them in this process, tests/publishing/
test_check_student_env.py with the student's check and the grader)."""

# Correct answers written differently (assignment, answer cell, what, old, new): each
# keeps full marks. A student's extra model, another name for the model, another order
# of the plotted lines never changes a verdict.
_PLOT_ACC = ('    plt.plot(epochs, acc, label="Training Accuracy")\n'
             '    plt.plot(val_epochs, val_acc, "o-", label="Validation Accuracy")\n')
_PLOT_LOSS = ('    plt.plot(epochs, loss, label="Training Loss")\n'
              '    plt.plot(val_epochs, val_loss, "o-", label="Validation Loss")\n')
VARIANTS = [
    ("keras_six_steps", "fit_answer", "another model built after the seed line",
     "model = compile_model(build_model())",
     "spare = compile_model(build_model())\nmodel = compile_model(build_model())"),
    ("keras_six_steps", "plot_fix_answer", "validation lines drawn first",
     _PLOT_ACC,
     "".join(reversed(_PLOT_ACC.splitlines(keepends=True)))),
    ("keras_six_steps", "plot_fix_answer", "validation loss drawn first",
     _PLOT_LOSS, "".join(reversed(_PLOT_LOSS.splitlines(keepends=True)))),
    ("subclass_cnn", "train_cnn_answer", "the model named net, another built first",
     "cnn = compile_cnn(build_cnn())\ncnn_history, test_accuracy = train_cnn(cnn,",
     "spare = build_cnn()\nnet = compile_cnn(build_cnn())\n"
     "cnn_history, test_accuracy = train_cnn(net,"),
    ("subclass_cnn", "train_cnn_answer", "the accuracy read from evaluate's dict",
     "    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)\n"
     "    return history, test_accuracy",
     "    scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)\n"
     "    return history, scores['sparse_categorical_accuracy']"),
    ("adaptive", "adagrad_answer", "tf.fill in the parameter's dtype",
     "tf.Variable(start * tf.ones_like(p))",
     "tf.Variable(tf.fill(p.shape, tf.constant(start, p.dtype)))"),
]
