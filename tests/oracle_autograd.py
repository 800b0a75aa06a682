"""The autograd oracle lives in ``benchmarks/autograd_model.py`` (it is also the benchmarks' "autograd"
contender); this module keeps the tests' import name."""
from benchmarks.autograd_model import model_config, oracle_loss, oracle_loss_and_grad  # noqa: F401
