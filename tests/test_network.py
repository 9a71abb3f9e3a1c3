"""The course never downloads anything: the guard in conftest.py refuses connections."""

import socket
import urllib.request

import pytest
import torch
from conftest import NetworkBlocked

import rnnlab


def test_guard_refuses_outbound_connections():
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("93.184.216.34", 80), timeout=1)
    with pytest.raises((NetworkBlocked, OSError)):
        urllib.request.urlopen("http://example.com", timeout=1)


def test_data_model_train_generate_need_no_network():
    # The whole pipeline under the guard: any download attempt would raise NetworkBlocked.
    data = rnnlab.load_time_machine(batch_size=4, num_steps=10, max_tokens=5_000)
    model = rnnlab.RNNScratch(len(data.vocab), 16)
    rnnlab.train(model, data, rnnlab.RunConfig(optimizer="sgd", lr=1.0, epochs=1),
                 torch.device("cpu"))
    assert rnnlab.generate(model, data.vocab, "the", 5).startswith("the")


def test_notebook_kernels_are_offline_too(tmp_path):
    # `make test` sets RNNLAB_OFFLINE=1 and puts tests/offline on PYTHONPATH, so every
    # kernel nbmake starts installs the same guard. Check it in a fresh interpreter.
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "RNNLAB_OFFLINE": "1",
           "PYTHONPATH": str(Path(__file__).parent / "offline")}
    code = ("import socket\n"
            "try:\n    socket.create_connection(('93.184.216.34', 80), timeout=1)\n"
            "except Exception as e:\n    print(type(e).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=60).stdout
    assert out.strip() == "NetworkBlocked"
