"""The run layer: what turns the maths core of :mod:`refimpl` into runs -- the training loop, checkpoints and run
directories, model selection, fine-tuning, training on the nodes that remain, evaluation, pruning and export,
the command line, timing, plots, the scikit-learn estimators and the sweep executors. The core imports nothing
from here (``tests/test_structure.py``)."""
