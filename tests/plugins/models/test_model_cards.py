"""One contract every registered model's card keeps, over the whole registry (a new model is checked by being
registered, not by being added to a list here)."""

import pytest

from mebench.data import Fidelity
from mebench.registry import default_registry

REGISTRY = default_registry()
BUILT_IN = [name for name in REGISTRY.models.names() if not name.startswith("timm:")]


def test_the_registry_holds_the_built_in_models():
    assert len(BUILT_IN) >= 50 and {"waspp", "ststnet", "htnet", "rcn-a", "lbptop", "biwoof"} <= set(BUILT_IN)


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_card_names_its_source_fidelity_input_and_figures(name):
    card = REGISTRY.models.get(name).card
    assert card is not None, f"{name} has no model card"
    assert card.source.authors and card.source.title and card.source.year, name
    assert isinstance(card.fidelity, Fidelity) and card.fidelity_detail and card.input_chain, name
    if card.fidelity is Fidelity.FAITHFUL:  # a faithful port names the code it follows and that code's count
        assert card.code and card.reference_parameters, name
    if card.reference_parameters is not None:
        assert card.reference_parameters > 0 and card.reference_parameters_source, name
    assert all(location.repository and location.path for location in card.code), name
    for figures in card.reported:
        assert figures.source and figures.dataset and figures.protocol, (name, figures)
        assert any(value is not None for value in (figures.accuracy, figures.uf1, figures.uar)) or figures.note, name
