"""Each net's forward pass against its authors' own code (issue 29).

``tests/kit/known_answers/forward.json`` holds, for every case of ``tests/kit/known_answers/nets.py``, the
outputs the authors' module computed with the mebench net's seeded weights copied into it, on seeded
inputs (``tests/kit/known_answers/compute.py`` made them, from the repositories and commits its docstring
names). Here the mebench net alone is built the same way and must give the same numbers to 1e-5: the
blocks compute what the authors' blocks compute, not only their parameter counts and layer order.
The same file records how the authors' code initialises each parameter (size, mean, standard
deviation), which the nets' own initialisation must match. The authors' code is not needed here.
"""

import functools

import pytest
import torch

from mebench.registry import discover
from tests.kit.known_answers.nets import ANSWERS, CASES, build, load_answers, run

ANSWERS_BY_CASE = load_answers()
TOLERANCE = 1e-5

#: Registered models whose card names public code but that have no known answer here, and why.
NOT_PINNED = {
    "dual-inception": "the authors' code is Keras (xly135846/MEGC2019); TensorFlow is not a dependency",
    "vgg-m": "the card's code is a PyTorch port of the authors' Caffe model, not the authors' code",
    "alexnet": "the net is torchvision's own definition, which the factory calls",
    "biwoof": "a fitted SVM over hand-crafted features (MATLAB code), not a net",
    "lbptop": "a fitted SVM over hand-crafted features, not a net",
    "mdmd": "a hand-crafted spotter (MATLAB code), not a net; its steps are pinned by tests/plugins/spotters/test_spotters.py",
    "softnet": "a spotter whose authors' code is Keras; its forward pass is pinned by tests/plugins/spotters/test_softnet.py against a "
               "weights file in the authors' .h5 layout and a forward pass written out in numpy",
    "mean": "a spotter whose authors' code is Keras; its forward pass is pinned by tests/plugins/spotters/test_mean.py against a "
            "weights file in the authors' .h5 layout and a forward pass written out in numpy",
    "mtsn": "a spotter; its forward pass is pinned by tests/plugins/spotters/test_mtsn.py against a state dict in the layout of the "
            "authors' published weights and a forward pass written out in numpy",
}


def stored(case):
    if case.name not in ANSWERS_BY_CASE:
        pytest.fail(f"{ANSWERS.name} has no answer for {case.name}: run tests/kit/known_answers/compute.py")
    return ANSWERS_BY_CASE[case.name]


@functools.cache
def net(name):
    """The case's mebench net, built once for the tests that read it (none changes it)."""
    return build(next(case for case in CASES if case.name == name))


@functools.cache
def outputs(name):
    """The case's logits and its probes' projections, from one pass of the mebench net."""
    return run(net(name), next(case for case in CASES if case.name == name))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_forward_pass_matches_the_authors_code(case):
    answer = stored(case)
    assert {key: answer[key] for key in case.describe()} == case.describe(), (
        f"{case.name} changed since its answer was computed: run tests/kit/known_answers/compute.py")
    logits, _ = outputs(case.name)
    expected = torch.tensor(answer["logits"], dtype=torch.float64)
    assert logits.shape == expected.shape
    assert (logits - expected).abs().max().item() <= TOLERANCE, (
        f"{case.name}: mebench {logits.tolist()} vs the authors' {expected.tolist()}")


PROBES = [(case, probe) for case in CASES for probe in case.probes]


@pytest.mark.parametrize("case, probe", PROBES, ids=[f"{case.name}-{probe}" for case, probe in PROBES])
def test_inner_block_outputs_match_the_authors_code(case, probe):
    """Blocks whose effect on a fresh net's logits is small (Off-TANet's self-attention), or whose output
    the authors' loss reads (IncepTR's two branch maps), pinned at their own outputs."""
    _, projections = outputs(case.name)
    ours = torch.tensor(projections[probe], dtype=torch.float64)
    expected = torch.tensor(stored(case)["probe_projections"][probe], dtype=torch.float64)
    assert ours.shape == expected.shape
    assert (ours - expected).abs().max().item() <= TOLERANCE, (
        f"{case.name} {probe}: mebench {ours.tolist()} vs the authors' {expected.tolist()}")


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_initialisation_draws_from_the_authors_distributions(case):
    """Each parameter's fresh values against those the authors' code draws for it under the same seed
    (their construction order differs, so the values themselves differ): a constant must be the same
    constant; otherwise the standard deviation and the mean must agree within six standard errors of
    two samples of that size (e.g. RCN's Kaiming fan-out stem, std 0.035, against fan-in's 0.16; its
    classifier's N(0, 0.01) against PyTorch's default, std 0.014)."""
    authors = stored(case)["authors_initialisation"]
    ours = dict(net(case.name).named_parameters())  # as initialised: the running statistics are buffers
    assert set(authors) <= set(ours), "the record names parameters the net does not have"
    for key, (count, mean, std) in authors.items():
        tensor = ours[key]
        assert tensor.numel() == count, key
        our_mean, our_std = tensor.mean().item(), tensor.std().item() if count > 1 else 0.0
        if std == 0.0:
            assert our_std == 0.0 and abs(our_mean - mean) <= 1e-12, f"{key}: the authors' constant is {mean}"
            continue
        error = (2.0 / count) ** 0.5
        assert abs(our_std / std - 1.0) <= 6 * error, f"{key}: std {our_std:.4g}, the authors' {std:.4g}"
        assert abs(our_mean - mean) <= 6 * error * std, f"{key}: mean {our_mean:.4g}, the authors' {mean:.4g}"


def test_every_net_with_public_code_has_a_known_answer():
    """A registered model counts as pinned when its factory is a pinned case's (a second spec of the same
    net, e.g. with another input chain, needs no answer of its own)."""
    registry = discover()
    with_code = {name for name in registry.models.names() if (registry.models.get(name).card or None)
                 and registry.models.get(name).card.code}
    pinned_factories = {registry.models.get(case.model).factory for case in CASES}
    pinned = {name for name in with_code if registry.models.get(name).factory in pinned_factories}
    assert with_code - pinned - set(NOT_PINNED) == set(), "nets with public code but no forward-pass known answer"
    assert set(NOT_PINNED) <= with_code - pinned
