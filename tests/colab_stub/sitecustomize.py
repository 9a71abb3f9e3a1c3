"""Start-up of the simulated Colab runtime (tests/test_colab.py): `google.colab` is imported
as it is in a real Colab kernel, and the network guard is installed."""

import google.colab  # noqa: F401
import rnnlab_offline  # noqa: F401
