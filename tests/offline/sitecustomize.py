"""Started by Python itself when this folder is on PYTHONPATH (`make test` does that):
installs the network guard of rnnlab_offline.py when RNNLAB_OFFLINE=1."""

import rnnlab_offline  # noqa: F401
