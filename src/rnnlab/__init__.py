"""rnnlab: the shared package of the course *Recurrent Neural Networks from scratch*.

    data.py       The Time Machine and any text (load_text), tokens, Vocab, splits, minibatches
    toy.py        chapter 3's toy tasks (alphabet_task, hello_task)
    baselines.py  uniform, unigram and bigram perplexities: what a model must beat
    models.py     RNNModel (nn.RNN/GRU/LSTM + nn.Linear), the input layers, state helpers
    cells.py      the RNN, GRU and LSTM steps as plain tensor functions (PyTorch's convention)
    scratch.py    ScratchLM: the hand-made RNN, GRU and LSTM language models, one class
                  (RNNScratch is its RNN), with RNNModel's interface
    bptt.py       backpropagation through time by hand: the RNN layer's (RNNScratch(backward=
                  "manual")), the LSTM's and the GRU's (ScratchLM's default for them)
    byhand.py     the whole model's gradients and SGD training without autograd (chapter 6),
                  the gated steps' backward (chapter 7)
    config.py     RunConfig: one run described (model, data layout, training), checked once
    train.py      train(), train_step(), perplexity(), generate(), fit()/predict() for the toy tasks
    runtime.py    get_device(), describe_device(), seed_everything()
    budget.py     get_budget(): the quick/full profile, its shared sizes and chapter recipes
    params.py     parameter, byte and multiply-add counts by formula
    inits.py      changes to a built model the pages compare (forget bias, ReLU, U(0, 1) biases)
    stacks.py     ResidualRNN: a stack of tanh layers with or without residual connections
    memory.py     the memory one training step holds, measured by kind
    sweep.py      hyperparameter sweeps with an on-disk cache
    timing.py     timing helpers: time_call, interleaved rounds, speed ratios and verdicts
    bench.py      the course's speed benchmark suite and its targets
    plots.py      matplotlib helpers with labelled axes
    pages.py      a page's header and footer, results said as Markdown, captioned source,
                  the setup cell
    tags.py       the notebooks' cell tags and what each means, written once
    noise.py      the one verdict rule every comparison on the pages is judged by (speed too)
    evidence.py   the committed reference results (make reference), read by the pages
    estimate.py   how long a page will train: a one-second probe times the page's planned runs
    progress.py   progress bars for notebooks, the website and logs
    reference.py  bridges to d2l's reference code, for cross-checks
    checks/       the exercise mechanism (verdict, sandbox, explain, expect, source);
                  exercises/chN.py hold each chapter's checks, exercises/ the numbers
    audit.py      what a student's function computes, watched at the operator level
    guard.py      keeping a check in charge: escapes refused, frozen checker, time limit
    validate.py   the argument checks that raise (require_*)
    classroom.py  for instructors: a student copy of the chapters, a submission's exercises
    grading.py    grading submitted notebooks out of process into a gradebook (CSV)
    _forkserver.py what the grading server imports before it forks a process per exercise
    cli.py        `python -m rnnlab train FILE` and `python -m rnnlab sample CHECKPOINT`
    plan.py       the run `train --minutes M` plans for its budget, the loop that trains it
                  by the clock, the shipped texts, the per-minute benchmark's table
    __main__.py   runs cli.main()
    _version.py   the version, written once (pyproject.toml reads it)
    _repository.py the repository URL, written once (setup.py, the site, the setup cells)
"""

from ._version import __version__
from .baselines import baseline_perplexities, ngram_perplexity
from .budget import Budget, get_budget
from .config import RunConfig
from .data import (
    LMData,
    TextError,
    Vocab,
    load_corpus_time_machine,
    load_text,
    load_time_machine,
    preprocess,
    seq_data_iter_random,
    seq_data_iter_sequential,
    seq_data_iter_stream,
    split_corpus,
    time_machine_text,
    tokenize,
)
from .models import OneHot, RNNModel, detach_state, num_params
from .progress import progress
from .runtime import describe_device, get_device, seed_everything
from .scratch import RNNScratch, ScratchLM
from .toy import alphabet_task, hello_task
from .train import (
    History,
    fit,
    generate,
    perplexity,
    predict,
    sequence_loss,
    train,
    train_step,
)

__all__ = [
    "__version__",
    "Budget", "History", "LMData", "OneHot", "RNNModel", "RNNScratch", "ScratchLM", "RunConfig",
    "Vocab",
    "alphabet_task", "baseline_perplexities", "describe_device", "detach_state", "fit",
    "generate", "get_budget", "get_device", "hello_task", "load_corpus_time_machine",
    "load_text", "load_time_machine", "ngram_perplexity", "TextError", "num_params",
    "perplexity", "predict",
    "preprocess", "progress", "time_machine_text", "seed_everything", "seq_data_iter_random",
    "seq_data_iter_sequential", "seq_data_iter_stream", "sequence_loss", "split_corpus",
    "tokenize", "train", "train_step",
]
